// Host interface of the CUTLASS GEMM kernels. Deliberately free of torch headers: gemm.cu is
// compiled by nvcc against CUTLASS and the CUDA runtime only, which keeps it quick to build.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace cutlass_gemm {

enum class DType { kHalf, kBFloat16 };

// out[M, N] = alpha * a[M, K] @ b[K, N] (+ bias[N] on every row when bias is not null).
// Row-major, contiguous, fp32 accumulation; M, N, K > 0 and N, K multiples of 8.
// Returns an empty string on success, else what went wrong.
const char *gemm(DType dtype, int m, int n, int k, const void *a, const void *b, const void *bias,
                 void *out, float alpha, cudaStream_t stream);

// CUTLASS_MAJOR * 10000 + CUTLASS_MINOR * 100 + CUTLASS_PATCH of the headers gemm.cu saw.
int64_t cutlass_version();

}  // namespace cutlass_gemm
