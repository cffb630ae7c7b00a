#include <cstdint>

#include <torch/csrc/stable/ops.h>
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/Dispatch_v2.h>
#include <torch/headeronly/core/ScalarType.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Exception.h>
#include <torch/headeronly/util/Half.h>

#include "torch_binding.h"

namespace {

template <typename scalar_t>
void relu_range(scalar_t *out, scalar_t const *in, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    out[i] = in[i] > scalar_t(0) ? in[i] : scalar_t(0);
  }
}

constexpr int64_t kGrainSize = 32768;

}  // namespace

torch::stable::Tensor relu(torch::stable::Tensor const &input) {
  STD_TORCH_CHECK(input.is_cpu(), "relu_cpu: input must be a CPU tensor");
  torch::stable::Tensor in = torch::stable::contiguous(input);
  torch::stable::Tensor out = torch::stable::empty_like(in);
  int64_t const n = in.numel();
  THO_DISPATCH_V2(
      in.scalar_type(), "relu_cpu", AT_WRAP([&] {
        scalar_t *out_ptr = out.mutable_data_ptr<scalar_t>();
        scalar_t const *in_ptr = in.const_data_ptr<scalar_t>();
        torch::stable::parallel_for(0, n, kGrainSize, [&](int64_t begin, int64_t end) {
          relu_range(out_ptr, in_ptr, begin, end);
        });
      }),
      AT_FLOATING_TYPES, torch::headeronly::ScalarType::Half,
      torch::headeronly::ScalarType::BFloat16);
  return out;
}
