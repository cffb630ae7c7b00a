#pragma once

#include <torch/torch.h>

// out = alpha * a @ b (+ bias), fp16 or bf16, on CUDA (see torch-ext/cutlass_gemm/__init__.py).
void gemm(torch::Tensor &out, torch::Tensor const &a, torch::Tensor const &b,
          std::optional<torch::Tensor> const &bias, double alpha);

// The CUTLASS version the kernel was compiled against, as major * 10000 + minor * 100 + patch.
int64_t cutlass_version();
