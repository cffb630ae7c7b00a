// A tensor-core GEMM built from CUTLASS's device-level GEMM template (the Ampere mma.sync path,
// which also runs on Hopper and Blackwell), with the bias added by a kernel written as a
// __device__ lambda (nvcc's --extended-lambda, which the backend passes as torch does).

#include <cutlass/cutlass.h>
#include <cutlass/gemm/device/gemm.h>
#include <cutlass/numeric_types.h>
#include <cutlass/version.h>

#include <algorithm>

#include "gemm.h"

namespace cutlass_gemm {
namespace {

template <typename Element>
using TensorOpGemm =
    cutlass::gemm::device::Gemm<Element, cutlass::layout::RowMajor,  // A
                                Element, cutlass::layout::RowMajor,  // B
                                Element, cutlass::layout::RowMajor,  // C and D
                                float,                               // accumulator
                                cutlass::arch::OpClassTensorOp, cutlass::arch::Sm80>;

// Grid-stride loop calling `body(i)` for every i in [0, n).
template <typename Body>
__global__ void for_each_index(int64_t n, Body body) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    body(i);
  }
}

template <typename Element>
cudaError_t add_row_bias(Element *out, const Element *bias, int m, int n, cudaStream_t stream) {
  int64_t total = int64_t(m) * n;
  int threads = 256;
  int blocks = static_cast<int>(std::min<int64_t>((total + threads - 1) / threads, 65535));
  for_each_index<<<blocks, threads, 0, stream>>>(total, [=] __device__(int64_t i) {
    out[i] = Element(float(out[i]) + float(bias[i % n]));
  });
  return cudaGetLastError();
}

template <typename Element>
const char *run(int m, int n, int k, const void *a, const void *b, const void *bias, void *out,
                float alpha, cudaStream_t stream) {
  using Gemm = TensorOpGemm<Element>;
  auto *d = static_cast<Element *>(out);
  typename Gemm::Arguments args({m, n, k}, {static_cast<const Element *>(a), k},
                                {static_cast<const Element *>(b), n}, {d, n}, {d, n},
                                {alpha, 0.0f});
  Gemm gemm;
  cutlass::Status status = gemm.can_implement(args);
  if (status == cutlass::Status::kSuccess) status = gemm(args, nullptr, stream);
  if (status != cutlass::Status::kSuccess) return cutlass::cutlassGetStatusString(status);
  if (bias != nullptr) {
    cudaError_t err = add_row_bias(d, static_cast<const Element *>(bias), m, n, stream);
    if (err != cudaSuccess) return cudaGetErrorString(err);
  }
  return "";
}

}  // namespace

const char *gemm(DType dtype, int m, int n, int k, const void *a, const void *b, const void *bias,
                 void *out, float alpha, cudaStream_t stream) {
  if (dtype == DType::kHalf) {
    return run<cutlass::half_t>(m, n, k, a, b, bias, out, alpha, stream);
  }
  return run<cutlass::bfloat16_t>(m, n, k, a, b, bias, out, alpha, stream);
}

int64_t cutlass_version() {
  return int64_t(CUTLASS_MAJOR) * 10000 + CUTLASS_MINOR * 100 + CUTLASS_PATCH;
}

}  // namespace cutlass_gemm
