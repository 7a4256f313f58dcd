// The kernels' single-precision matrix product (dense, matmul and the im2col convolutions):
// oneDNN's dnnl_sgemm in builds with oneDNN, OpenBLAS's cblas_sgemm otherwise (the fallback).
// On this project's AVX-512 machines oneDNN's is about twice as fast as Debian's OpenBLAS
// 0.3.21 on a transformer's shapes and five times on the matrix-vector products of a
// classifier's last layer (one image). Internal to ferry_kernels.
#ifndef FERRY_RUNTIME_KERNELS_GEMM_H_
#define FERRY_RUNTIME_KERNELS_GEMM_H_

#include <stdint.h>

#include "runtime/kernels/kernel_abi.h"

namespace ferry::kernels::internal {

// Row-major C[m, n] = op(A) * op(B), overwriting C; op transposes when its flag is set. A is
// stored [m, k] (or [k, m] when trans_a) with row stride lda, B [k, n] (or [n, k] when
// trans_b) with ldb, C with ldc. m, n and k must be positive (callers handle empty products).
// Uses the calling thread's kernel thread count (runtime/kernel_threads.h). Returns 0, or -1
// with the error filled (named after `kernel`) when the library refuses.
int Sgemm(const char* kernel, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          FerryKernelError* error);

// Whether Sgemm's dimensions fit the library's integer type.
bool SgemmFits(int64_t m, int64_t n, int64_t k);

}  // namespace ferry::kernels::internal

#endif  // FERRY_RUNTIME_KERNELS_GEMM_H_
