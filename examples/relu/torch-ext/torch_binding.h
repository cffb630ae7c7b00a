#pragma once

#include <torch/torch.h>

// out = max(input, 0), elementwise. Both tensors are contiguous and of the same shape.
void relu(torch::Tensor &out, torch::Tensor const &input);
