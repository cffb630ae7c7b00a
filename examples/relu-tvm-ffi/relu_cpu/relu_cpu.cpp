#include "relu_common.h"

// out[i] = max(input[i], 0) for contiguous float32 CPU tensors.
void relu_cpu(tvm::ffi::TensorView out, tvm::ffi::TensorView input) {
  relu_tvm_ffi::check_arguments(out, input, kDLCPU);
  auto const *in = static_cast<float const *>(input.data_ptr());
  auto *dst = static_cast<float *>(out.data_ptr());
  int64_t const n = input.numel();
  for (int64_t i = 0; i < n; ++i) {
    dst[i] = in[i] > 0.0f ? in[i] : 0.0f;
  }
}
