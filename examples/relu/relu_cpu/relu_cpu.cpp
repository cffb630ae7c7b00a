#include <torch/torch.h>

#include "torch_binding.h"

namespace {

template <typename scalar_t>
void relu_loop(scalar_t *out, scalar_t const *in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = in[i] > scalar_t(0) ? in[i] : scalar_t(0);
  }
}

}  // namespace

void relu(torch::Tensor &out, torch::Tensor const &input) {
  TORCH_CHECK(input.device().is_cpu(), "relu_cpu: input must be a CPU tensor");
  TORCH_CHECK(input.is_contiguous() && out.is_contiguous(), "relu: tensors must be contiguous");
  TORCH_CHECK(input.sizes() == out.sizes(), "relu: out must have the shape of input");
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16,
                                  input.scalar_type(), "relu_cpu", [&] {
    relu_loop(out.data_ptr<scalar_t>(), input.data_ptr<scalar_t>(), input.numel());
  });
}
