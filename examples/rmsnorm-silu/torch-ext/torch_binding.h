#pragma once

#include <torch/torch.h>

// out[..., i] = silu(input[..., i]) * input[..., d + i] with d = input.size(-1) / 2.
// input and out are contiguous; out has input's shape with the last dimension halved.
void silu_and_mul(torch::Tensor &out, torch::Tensor const &input);

// out = input / sqrt(mean(input^2, last dim) + eps) * weight, computed in float.
// input and out are contiguous and of the same shape; weight has input.size(-1) elements.
void rms_norm(torch::Tensor &out, torch::Tensor const &input, torch::Tensor const &weight,
              double eps);
