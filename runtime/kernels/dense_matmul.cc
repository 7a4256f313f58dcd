// Dense and Matmul through the kernels' GEMM (gemm.h).
#include <string.h>

#include <algorithm>

#include "runtime/kernels/epilogue.h"
#include "runtime/kernels/gemm.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::CheckArgs;
using internal::CheckFloat32;
using internal::CheckShape;
using internal::DataAs;
using internal::Fail;
using internal::SgemmFits;
using internal::FormatShape;

// C[m, n] = op(A) * op(B) with row-major A, B, C; op transposes when the flag is set. A is
// stored [m, k] (or [k, m] when trans_a), B [k, n] (or [n, k] when trans_b). Handles k == 0.
// Returns 0, or -1 with the error filled.
int Gemm(const char* kernel, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
         const float* a, const float* b, float* c, FerryKernelError* error) {
  if (m == 0 || n == 0) return 0;
  if (k == 0) {
    memset(c, 0, sizeof(float) * m * n);
    return 0;
  }
  return internal::Sgemm(kernel, trans_a, trans_b, m, n, k, a, trans_a ? m : k, b,
                         trans_b ? k : n, c, n, error);
}

}  // namespace

namespace {

int DenseWithEpilogue(const char* name, const Epilogue& epilogue, DLTensor* const* args,
                      int32_t num_args, FerryKernelError* error) {
  const int32_t arity = 3 + internal::EpilogueArgCount(epilogue);
  if (CheckArgs(name, args, num_args, arity, arity, error) != 0 ||
      CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  const DLTensor& weight = *args[1];
  const DLTensor& out = *args[num_args - 1];
  if (data.ndim != 2) return Fail(error, name, "data must be 2-D, got rank %d", data.ndim);
  if (weight.ndim != 2) {
    return Fail(error, name, "weight must be 2-D, got rank %d", weight.ndim);
  }
  int64_t m = data.shape[0], k = data.shape[1], n = weight.shape[0];
  if (weight.shape[1] != k) {
    return Fail(error, name, "weight shape %s does not match data shape %s (K = %lld)",
                FormatShape(weight).text, FormatShape(data).text, static_cast<long long>(k));
  }
  const int64_t expected[2] = {m, n};
  if (CheckShape(name, "output", out, expected, 2, error) != 0 ||
      internal::CheckEpilogue(name, epilogue, args + 2, n, error) != 0) {
    return -1;
  }
  if (!SgemmFits(m, n, k)) return Fail(error, name, "dimensions exceed the BLAS integer range");
  if (Gemm(name, false, true, m, n, k, DataAs<const float>(data), DataAs<const float>(weight),
           DataAs<float>(out), error) != 0) {
    return -1;
  }
  internal::ApplyEpilogue(epilogue, args + 2, DataAs<float>(out), m, n, 1);
  return 0;
}

}  // namespace

int Dense(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return DenseWithEpilogue("dense", Epilogue{}, args, num_args, error);
}

int FusedDense(const DenseAttrs& attrs, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error) {
  return DenseWithEpilogue("dense", attrs.epilogue, args, num_args, error);
}

int Matmul(const MatmulAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error) {
  constexpr const char* kName = "matmul";
  const int32_t arity = 3 + internal::EpilogueArgCount(attrs.epilogue);
  if (CheckArgs(kName, args, num_args, arity, arity, error) != 0 ||
      CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& a = *args[0];
  const DLTensor& b = *args[1];
  const DLTensor& out = *args[num_args - 1];
  if (a.ndim < 2 || b.ndim < 2) {
    return Fail(error, kName, "operands must have rank >= 2, got ranks %d and %d", a.ndim,
                b.ndim);
  }
  int64_t a0 = a.shape[a.ndim - 2], a1 = a.shape[a.ndim - 1];
  int64_t b0 = b.shape[b.ndim - 2], b1 = b.shape[b.ndim - 1];
  int64_t m = attrs.transpose_a ? a1 : a0, k = attrs.transpose_a ? a0 : a1;
  int64_t kb = attrs.transpose_b ? b1 : b0, n = attrs.transpose_b ? b0 : b1;
  if (k != kb) {
    return Fail(error, kName, "inner dimensions differ: a %s gives K = %lld, b %s gives K = %lld",
                FormatShape(a).text, static_cast<long long>(k), FormatShape(b).text,
                static_cast<long long>(kb));
  }
  // Batch dimensions, right-aligned and broadcast; a_stride/b_stride are matrix strides (0
  // where that operand broadcasts).
  const int batch_ndim = std::max(a.ndim, b.ndim) - 2;
  int64_t expected[kMaxDims], a_stride[kMaxDims], b_stride[kMaxDims];
  int64_t a_run = 1, b_run = 1;
  for (int i = batch_ndim - 1; i >= 0; --i) {
    int ai = i - (batch_ndim - (a.ndim - 2)), bi = i - (batch_ndim - (b.ndim - 2));
    int64_t da = ai >= 0 ? a.shape[ai] : 1, db = bi >= 0 ? b.shape[bi] : 1;
    if (da != db && da != 1 && db != 1) {
      return Fail(error, kName, "batch dimensions of %s and %s do not broadcast",
                  FormatShape(a).text, FormatShape(b).text);
    }
    expected[i] = da == 1 ? db : da;
    a_stride[i] = da == 1 ? 0 : a_run;
    b_stride[i] = db == 1 ? 0 : b_run;
    a_run *= da;
    b_run *= db;
  }
  expected[batch_ndim] = m;
  expected[batch_ndim + 1] = n;
  if (CheckShape(kName, "output", out, expected, batch_ndim + 2, error) != 0 ||
      internal::CheckEpilogue(kName, attrs.epilogue, args + 2, n, error) != 0) {
    return -1;
  }
  if (!SgemmFits(m, n, k)) return Fail(error, kName, "dimensions exceed the BLAS integer range");
  const float* pa = DataAs<const float>(a);
  const float* pb = DataAs<const float>(b);
  float* pc = DataAs<float>(out);
  int64_t batch = internal::Product(expected, 0, batch_ndim);
  if (batch == 0) return 0;
  // The epilogue applies to the output's rows, every batch's.
  auto epilogue = [&] {
    internal::ApplyEpilogue(attrs.epilogue, args + 2, pc, batch * m, n, 1);
    return 0;
  };
  if (b_run == 1 && !attrs.transpose_a && SgemmFits(batch * m, n, k)) {
    // b is shared by every batch: one GEMM over the stacked rows of a.
    if (Gemm(kName, false, attrs.transpose_b, batch * m, n, k, pa, pb, pc, error) != 0) return -1;
    return epilogue();
  }
  const int64_t a_size = m * k, b_size = k * n, c_size = m * n;
  int64_t index[kMaxDims] = {};
  int64_t a_off = 0, b_off = 0;
  for (int64_t t = 0; t < batch; ++t) {
    if (Gemm(kName, attrs.transpose_a, attrs.transpose_b, m, n, k, pa + a_off * a_size,
             pb + b_off * b_size, pc + t * c_size, error) != 0) {
      return -1;
    }
    for (int d = batch_ndim - 1; d >= 0; --d) {
      a_off += a_stride[d];
      b_off += b_stride[d];
      if (++index[d] < expected[d]) break;
      a_off -= a_stride[d] * expected[d];
      b_off -= b_stride[d] * expected[d];
      index[d] = 0;
    }
  }
  return epilogue();
}

}  // namespace ferry::kernels
