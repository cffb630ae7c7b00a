#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cutlass_gemm/gemm.h"
#include "registration.h"
#include "torch_binding.h"

void gemm(torch::Tensor &out, torch::Tensor const &a, torch::Tensor const &b,
          std::optional<torch::Tensor> const &bias, double alpha) {
  TORCH_CHECK(a.is_cuda() && b.is_cuda() && out.is_cuda(), "gemm: tensors must be on a CUDA device");
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2, "gemm: a and b must be matrices");
  TORCH_CHECK(a.size(1) == b.size(0), "gemm: a is ", a.sizes(), " and b is ", b.sizes(),
              ": inner dimensions differ");
  TORCH_CHECK(a.scalar_type() == b.scalar_type() && a.scalar_type() == out.scalar_type(),
              "gemm: a, b and out must have one dtype");
  TORCH_CHECK(a.scalar_type() == at::kHalf || a.scalar_type() == at::kBFloat16,
              "gemm: dtype must be float16 or bfloat16, got ", a.scalar_type());
  TORCH_CHECK(a.is_contiguous() && b.is_contiguous() && out.is_contiguous(),
              "gemm: tensors must be contiguous (row-major)");
  int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  TORCH_CHECK(out.size(0) == m && out.size(1) == n, "gemm: out must be ", m, "x", n);
  TORCH_CHECK(m > 0 && n > 0 && k > 0, "gemm: empty matrices");
  TORCH_CHECK(n % 8 == 0 && k % 8 == 0, "gemm: N and K must be multiples of 8 (128-bit loads), got N=",
              n, " K=", k);
  const void *bias_ptr = nullptr;
  if (bias.has_value()) {
    TORCH_CHECK(bias->is_cuda() && bias->scalar_type() == a.scalar_type() && bias->is_contiguous() &&
                    bias->dim() == 1 && bias->size(0) == n,
                "gemm: bias must be a contiguous vector of ", n, " elements of a's dtype");
    bias_ptr = bias->data_ptr();
  }
  const at::cuda::OptionalCUDAGuard guard(a.device());
  auto dtype = a.scalar_type() == at::kHalf ? cutlass_gemm::DType::kHalf : cutlass_gemm::DType::kBFloat16;
  const char *error = cutlass_gemm::gemm(dtype, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                                         a.data_ptr(), b.data_ptr(), bias_ptr, out.data_ptr(),
                                         static_cast<float>(alpha), at::cuda::getCurrentCUDAStream());
  TORCH_CHECK(error[0] == '\0', "gemm: CUTLASS failed: ", error);
}

int64_t cutlass_version() { return cutlass_gemm::cutlass_version(); }

TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("gemm(Tensor! out, Tensor a, Tensor b, Tensor? bias, float alpha) -> ()");
  ops.impl("gemm", torch::kCUDA, &gemm);
  ops.def("cutlass_version() -> int");
  ops.impl("cutlass_version", &cutlass_version);
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
