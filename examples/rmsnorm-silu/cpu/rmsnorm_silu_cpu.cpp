#include <cmath>

#include <torch/torch.h>

#include "torch_binding.h"

void silu_and_mul(torch::Tensor &out, torch::Tensor const &input) {
  check_silu_and_mul_args(out, input, c10::kCPU);
  int64_t d = input.size(-1) / 2;
  int64_t rows = d == 0 ? 0 : out.numel() / d;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, input.scalar_type(),
                                  "silu_and_mul_cpu", [&] {
    scalar_t const *in = input.data_ptr<scalar_t>();
    scalar_t *o = out.data_ptr<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < d; ++i) {
        float a = static_cast<float>(in[r * 2 * d + i]);
        float b = static_cast<float>(in[r * 2 * d + d + i]);
        o[r * d + i] = static_cast<scalar_t>(a / (1.0f + std::exp(-a)) * b);
      }
    }
  });
}

void rms_norm(torch::Tensor &out, torch::Tensor const &input, torch::Tensor const &weight, double eps) {
  check_rms_norm_args(out, input, weight, c10::kCPU);
  int64_t n = input.size(-1);
  int64_t rows = n == 0 ? 0 : input.numel() / n;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, input.scalar_type(),
                                  "rms_norm_cpu", [&] {
    scalar_t const *in = input.data_ptr<scalar_t>();
    scalar_t const *w = weight.data_ptr<scalar_t>();
    scalar_t *o = out.data_ptr<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      float sum = 0.0f;
      for (int64_t i = 0; i < n; ++i) {
        float v = static_cast<float>(in[r * n + i]);
        sum += v * v;
      }
      float rstd = 1.0f / std::sqrt(sum / static_cast<float>(n) + static_cast<float>(eps));
      for (int64_t i = 0; i < n; ++i) {
        o[r * n + i] = static_cast<scalar_t>(static_cast<float>(in[r * n + i]) * rstd * static_cast<float>(w[i]));
      }
    }
  });
}
