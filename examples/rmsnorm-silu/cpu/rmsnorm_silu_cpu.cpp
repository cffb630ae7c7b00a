#include <cmath>

#include <torch/torch.h>

#include "torch_binding.h"

namespace {

void check_silu_and_mul(torch::Tensor const &out, torch::Tensor const &input) {
  TORCH_CHECK(input.device().is_cpu() && out.device().is_cpu(), "silu_and_mul: CPU tensors expected");
  TORCH_CHECK(input.is_contiguous() && out.is_contiguous(), "silu_and_mul: tensors must be contiguous");
  TORCH_CHECK(input.dim() >= 1 && input.size(-1) % 2 == 0,
              "silu_and_mul: the last dimension of input must be even");
  TORCH_CHECK(out.dim() == input.dim() && out.size(-1) * 2 == input.size(-1) &&
                  out.numel() * 2 == input.numel(),
              "silu_and_mul: out must have input's shape with the last dimension halved");
  TORCH_CHECK(out.scalar_type() == input.scalar_type(), "silu_and_mul: dtypes must match");
}

}  // namespace

void silu_and_mul(torch::Tensor &out, torch::Tensor const &input) {
  check_silu_and_mul(out, input);
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
  TORCH_CHECK(input.device().is_cpu() && out.device().is_cpu() && weight.device().is_cpu(),
              "rms_norm: CPU tensors expected");
  TORCH_CHECK(input.is_contiguous() && out.is_contiguous() && weight.is_contiguous(),
              "rms_norm: tensors must be contiguous");
  TORCH_CHECK(input.dim() >= 1 && out.sizes() == input.sizes(), "rms_norm: out must have input's shape");
  TORCH_CHECK(weight.numel() == input.size(-1), "rms_norm: weight must have input.size(-1) elements");
  TORCH_CHECK(out.scalar_type() == input.scalar_type() && weight.scalar_type() == input.scalar_type(),
              "rms_norm: dtypes must match");
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
