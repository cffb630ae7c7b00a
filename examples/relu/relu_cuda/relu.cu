#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/torch.h>

#include "torch_binding.h"

namespace {

template <typename scalar_t>
__global__ void relu_kernel(scalar_t *__restrict__ out, scalar_t const *__restrict__ in,
                            int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    // Compare in float: half and bfloat16 have ambiguous comparison overloads under C++20.
    scalar_t x = in[i];
    out[i] = static_cast<float>(x) > 0.0f ? x : scalar_t(0);
  }
}

}  // namespace

void relu(torch::Tensor &out, torch::Tensor const &input) {
  TORCH_CHECK(input.device().is_cuda(), "relu_cuda: input must be a CUDA tensor");
  TORCH_CHECK(input.is_contiguous() && out.is_contiguous(), "relu: tensors must be contiguous");
  TORCH_CHECK(input.sizes() == out.sizes(), "relu: out must have the shape of input");
  int64_t n = input.numel();
  if (n == 0) return;
  const at::cuda::OptionalCUDAGuard guard(input.device());
  int threads = 256;
  int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535));
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16,
                                  input.scalar_type(), "relu_cuda", [&] {
    relu_kernel<scalar_t><<<blocks, threads, 0, stream>>>(out.data_ptr<scalar_t>(),
                                                          input.data_ptr<scalar_t>(), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}
