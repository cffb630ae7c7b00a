#include <tvm/ffi/extra/c_env_api.h>
#include <tvm/ffi/extra/cuda/device_guard.h>

#include "relu_common.h"

namespace {

__global__ void relu_kernel(float *__restrict__ out, float const *__restrict__ in, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float const x = in[i];
    out[i] = x > 0.0f ? x : 0.0f;
  }
}

}  // namespace

// out[i] = max(input[i], 0) for contiguous float32 CUDA tensors, on the caller's current stream
// (the one the framework that called through TVM FFI set, e.g. torch's).
void relu_cuda(tvm::ffi::TensorView out, tvm::ffi::TensorView input) {
  relu_tvm_ffi::check_arguments(out, input, kDLCUDA);
  int64_t const n = input.numel();
  if (n == 0) {
    return;
  }
  tvm::ffi::CUDADeviceGuard guard(input.device().device_id);
  auto stream = static_cast<cudaStream_t>(TVMFFIEnvGetStream(kDLCUDA, input.device().device_id));
  int const threads = 256;
  int64_t const blocks = (n + threads - 1) / threads < 65535 ? (n + threads - 1) / threads : 65535;
  relu_kernel<<<blocks, threads, 0, stream>>>(static_cast<float *>(out.data_ptr()),
                                              static_cast<float const *>(input.data_ptr()), n);
  TVM_FFI_CHECK(cudaGetLastError() == cudaSuccess, RuntimeError) << "relu: kernel launch failed";
}
