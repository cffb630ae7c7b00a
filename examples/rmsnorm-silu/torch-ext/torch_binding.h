#pragma once

#include <torch/torch.h>

// out[..., i] = silu(input[..., i]) * input[..., d + i] with d = input.size(-1) / 2.
// input and out are contiguous; out has input's shape with the last dimension halved.
void silu_and_mul(torch::Tensor &out, torch::Tensor const &input);

// out = input / sqrt(mean(input^2, last dim) + eps) * weight, computed in float.
// input and out are contiguous and of the same shape; weight has input.size(-1) elements.
void rms_norm(torch::Tensor &out, torch::Tensor const &input, torch::Tensor const &weight,
              double eps);

// The argument checks above, shared by every backend's implementation; `device` is the
// backend's device type (kCPU, kCUDA).
inline void check_silu_and_mul_args(torch::Tensor const &out, torch::Tensor const &input,
                                    c10::DeviceType device) {
  TORCH_CHECK(input.device().type() == device && out.device().type() == device,
              "silu_and_mul: ", c10::DeviceTypeName(device), " tensors expected");
  TORCH_CHECK(input.is_contiguous() && out.is_contiguous(), "silu_and_mul: tensors must be contiguous");
  TORCH_CHECK(input.dim() >= 1 && input.size(-1) % 2 == 0,
              "silu_and_mul: the last dimension of input must be even");
  TORCH_CHECK(out.dim() == input.dim() && out.size(-1) * 2 == input.size(-1) &&
                  out.numel() * 2 == input.numel(),
              "silu_and_mul: out must have input's shape with the last dimension halved");
  TORCH_CHECK(out.scalar_type() == input.scalar_type(), "silu_and_mul: dtypes must match");
}

inline void check_rms_norm_args(torch::Tensor const &out, torch::Tensor const &input,
                                torch::Tensor const &weight, c10::DeviceType device) {
  TORCH_CHECK(input.device().type() == device && out.device().type() == device &&
                  weight.device().type() == device,
              "rms_norm: ", c10::DeviceTypeName(device), " tensors expected");
  TORCH_CHECK(input.is_contiguous() && out.is_contiguous() && weight.is_contiguous(),
              "rms_norm: tensors must be contiguous");
  TORCH_CHECK(input.dim() >= 1 && out.sizes() == input.sizes(), "rms_norm: out must have input's shape");
  TORCH_CHECK(weight.numel() == input.size(-1), "rms_norm: weight must have input.size(-1) elements");
  TORCH_CHECK(out.scalar_type() == input.scalar_type() && weight.scalar_type() == input.scalar_type(),
              "rms_norm: dtypes must match");
}
