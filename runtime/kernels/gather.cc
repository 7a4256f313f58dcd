// gather: copy slices of data (any dtype) selected by an index tensor along one axis.
#include <string.h>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

bool SameDType(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

// Element k of an int32 or int64 index tensor (read with memcpy: no alignment required).
int64_t IndexAt(const char* indices, bool wide, int64_t k) {
  if (wide) {
    int64_t v;
    memcpy(&v, indices + k * 8, sizeof(v));
    return v;
  }
  int32_t v;
  memcpy(&v, indices + k * 4, sizeof(v));
  return v;
}

}  // namespace

// args: data, indices, out. out must not overlap data.
int Gather(const GatherAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error) {
  constexpr const char* kName = "gather";
  if (internal::CheckArgs(kName, args, num_args, 3, 3, error) != 0) return -1;
  const DLTensor& data = *args[0];
  const DLTensor& indices = *args[1];
  const DLTensor& out = *args[2];
  if (!SameDType(out.dtype, data.dtype)) {
    return Fail(error, kName,
                "output dtype (code %u, %u bits) differs from data's (code %u, "
                "%u bits)",
                unsigned{out.dtype.code}, unsigned{out.dtype.bits}, unsigned{data.dtype.code},
                unsigned{data.dtype.bits});
  }
  const DLDataType it = indices.dtype;
  if (it.code != kDLInt || (it.bits != 32 && it.bits != 64) || it.lanes != 1) {
    return Fail(error, kName,
                "indices have dtype (code %u, %u bits, %u lanes), expected int32 "
                "or int64",
                unsigned{it.code}, unsigned{it.bits}, unsigned{it.lanes});
  }
  int axis;
  if (internal::NormalizeAxis(kName, attrs.axis, data.ndim, &axis, error) != 0) return -1;
  const int rank = data.ndim - 1 + indices.ndim;
  if (rank > kMaxDims) {
    return Fail(error, kName, "output rank %d exceeds %d", rank, kMaxDims);
  }
  int64_t expected[kMaxDims];
  int r = 0;
  for (int d = 0; d < axis; ++d) expected[r++] = data.shape[d];
  for (int d = 0; d < indices.ndim; ++d) expected[r++] = indices.shape[d];
  for (int d = axis + 1; d < data.ndim; ++d) expected[r++] = data.shape[d];
  if (internal::CheckShape(kName, "output", out, expected, rank, error) != 0) return -1;
  // Every index is checked before anything is written.
  const int64_t n = data.shape[axis];
  const int64_t count = internal::NumElements(indices);
  const char* index_data = DataAs<const char>(indices);
  const bool wide = it.bits == 64;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = IndexAt(index_data, wide, k);
    if (i < -n || i >= n) {
      return Fail(error, kName, "index %lld at position %lld is out of range [%lld, %lld)",
                  static_cast<long long>(i), static_cast<long long>(k), static_cast<long long>(-n),
                  static_cast<long long>(n));
    }
  }
  if (internal::NumElements(out) == 0) return 0;
  const int64_t outer = internal::Product(data.shape, 0, axis);
  const int64_t inner_bytes = internal::Product(data.shape, axis + 1, data.ndim) *
                              static_cast<int64_t>(internal::ElementBytes(data));
  const char* src = DataAs<const char>(data);
  char* dst = DataAs<char>(out);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < count; ++k) {
      int64_t i = IndexAt(index_data, wide, k);
      if (i < 0) i += n;
      memcpy(dst + (o * count + k) * inner_bytes, src + (o * n + i) * inner_bytes,
             static_cast<size_t>(inner_bytes));
    }
  }
  return 0;
}

}  // namespace ferry::kernels
