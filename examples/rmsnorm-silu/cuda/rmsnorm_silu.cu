#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/torch.h>

#include "torch_binding.h"

namespace {

template <typename scalar_t>
__global__ void silu_and_mul_kernel(scalar_t *__restrict__ out, scalar_t const *__restrict__ in,
                                    int64_t rows, int64_t d) {
  int64_t total = rows * d;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(blockDim.x) * gridDim.x) {
    int64_t r = idx / d, i = idx % d;
    float a = static_cast<float>(in[r * 2 * d + i]);
    float b = static_cast<float>(in[r * 2 * d + d + i]);
    out[idx] = static_cast<scalar_t>(a / (1.0f + expf(-a)) * b);
  }
}

// One block per row; threads stride over the row and reduce the sum of squares in shared memory.
template <typename scalar_t>
__global__ void rms_norm_kernel(scalar_t *__restrict__ out, scalar_t const *__restrict__ in,
                                scalar_t const *__restrict__ weight, int64_t n, float eps) {
  extern __shared__ float partial[];
  int64_t row = blockIdx.x;
  scalar_t const *x = in + row * n;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    float v = static_cast<float>(x[i]);
    sum += v * v;
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  float rstd = rsqrtf(partial[0] / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    out[row * n + i] = static_cast<scalar_t>(static_cast<float>(x[i]) * rstd * static_cast<float>(weight[i]));
  }
}

}  // namespace

void silu_and_mul(torch::Tensor &out, torch::Tensor const &input) {
  check_silu_and_mul_args(out, input, c10::kCUDA);
  int64_t d = input.size(-1) / 2;
  if (d == 0 || out.numel() == 0) return;
  int64_t rows = out.numel() / d;
  const at::cuda::OptionalCUDAGuard guard(input.device());
  int threads = 256;
  int blocks = static_cast<int>(std::min<int64_t>((rows * d + threads - 1) / threads, 65535));
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, input.scalar_type(),
                                  "silu_and_mul_cuda", [&] {
    silu_and_mul_kernel<scalar_t><<<blocks, threads, 0, stream>>>(out.data_ptr<scalar_t>(),
                                                                  input.data_ptr<scalar_t>(), rows, d);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void rms_norm(torch::Tensor &out, torch::Tensor const &input, torch::Tensor const &weight, double eps) {
  check_rms_norm_args(out, input, weight, c10::kCUDA);
  int64_t n = input.size(-1);
  if (n == 0 || input.numel() == 0) return;
  int64_t rows = input.numel() / n;
  const at::cuda::OptionalCUDAGuard guard(input.device());
  int threads = 256;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, input.scalar_type(),
                                  "rms_norm_cuda", [&] {
    rms_norm_kernel<scalar_t><<<static_cast<unsigned>(rows), threads, threads * sizeof(float), stream>>>(
        out.data_ptr<scalar_t>(), input.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), n,
        static_cast<float>(eps));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}
