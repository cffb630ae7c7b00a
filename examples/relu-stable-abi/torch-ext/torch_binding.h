#pragma once

// Only stable-ABI headers: the extension must not depend on libtorch's C++ ABI.
#include <torch/csrc/stable/tensor.h>

// max(input, 0), elementwise, as a new contiguous tensor of input's shape and dtype.
torch::stable::Tensor relu(torch::stable::Tensor const &input);
