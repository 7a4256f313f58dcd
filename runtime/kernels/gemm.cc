#include "runtime/kernels/gemm.h"

#include "runtime/kernels/kernel_util.h"

#if FERRY_KERNELS_GEMM_DNNL
#include <dnnl.h>
#else
#include <cblas.h>
#endif

namespace ferry::kernels::internal {

#if FERRY_KERNELS_GEMM_DNNL

bool SgemmFits(int64_t, int64_t, int64_t) { return true; }  // dnnl_dim_t is 64-bit

int Sgemm(const char* kernel, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          FerryKernelError* error) {
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f,
                                          a, lda, b, ldb, 0.0f, c, ldc);
  if (status == dnnl_success) return 0;
  return Fail(error, kernel, "oneDNN's sgemm failed (status %d%s)", static_cast<int>(status),
              status == dnnl_out_of_memory ? ": out of memory" : "");
}

#else

bool SgemmFits(int64_t m, int64_t n, int64_t k) {
  return FitsBlasInt(m) && FitsBlasInt(n) && FitsBlasInt(k);
}

int Sgemm(const char* kernel, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          FerryKernelError* error) {
  if (!SgemmFits(m, n, k) || !FitsBlasInt(lda) || !FitsBlasInt(ldb) || !FitsBlasInt(ldc)) {
    return Fail(error, kernel, "dimensions exceed the BLAS integer range");
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0f,
              c, static_cast<int>(ldc));
  return 0;
}

#endif

}  // namespace ferry::kernels::internal
