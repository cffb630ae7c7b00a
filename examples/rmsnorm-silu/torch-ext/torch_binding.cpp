#include <torch/library.h>

#include "registration.h"
#include "torch_binding.h"

TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("silu_and_mul(Tensor! out, Tensor input) -> ()");
  ops.def("rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()");
#if defined(CPU_KERNEL)
  ops.impl("silu_and_mul", torch::kCPU, &silu_and_mul);
  ops.impl("rms_norm", torch::kCPU, &rms_norm);
#elif defined(CUDA_KERNEL) || defined(ROCM_KERNEL)
  ops.impl("silu_and_mul", torch::kCUDA, &silu_and_mul);
  ops.impl("rms_norm", torch::kCUDA, &rms_norm);
#endif
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
