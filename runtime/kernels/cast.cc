// cast: element-wise conversion between the float, integer and bool dtypes.
#include <string.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// DLPack's kDLBool (added after the DLPack version some systems ship).
constexpr uint8_t kBoolCode = 6;

// The supported dtypes; kUnsupported for anything else.
enum class Kind { kF32, kF64, kI8, kI16, kI32, kI64, kU8, kU16, kU32, kU64, kBool, kUnsupported };

Kind KindOf(DLDataType t) {
  if (t.lanes != 1) return Kind::kUnsupported;
  switch (t.code) {
    case kDLFloat:
      return t.bits == 32 ? Kind::kF32 : t.bits == 64 ? Kind::kF64 : Kind::kUnsupported;
    case kDLInt:
      return t.bits == 8    ? Kind::kI8
             : t.bits == 16 ? Kind::kI16
             : t.bits == 32 ? Kind::kI32
             : t.bits == 64 ? Kind::kI64
                            : Kind::kUnsupported;
    case kDLUInt:
      return t.bits == 8    ? Kind::kU8
             : t.bits == 16 ? Kind::kU16
             : t.bits == 32 ? Kind::kU32
             : t.bits == 64 ? Kind::kU64
                            : Kind::kUnsupported;
    case kBoolCode:
      return t.bits == 8 ? Kind::kBool : Kind::kUnsupported;
    default:
      return Kind::kUnsupported;
  }
}

// Calls f(T{}) with the C++ type of `kind` (bool for kBool); returns false for kUnsupported.
template <typename F>
bool VisitKind(Kind kind, F&& f) {
  switch (kind) {
    case Kind::kF32:
      f(float{});
      return true;
    case Kind::kF64:
      f(double{});
      return true;
    case Kind::kI8:
      f(int8_t{});
      return true;
    case Kind::kI16:
      f(int16_t{});
      return true;
    case Kind::kI32:
      f(int32_t{});
      return true;
    case Kind::kI64:
      f(int64_t{});
      return true;
    case Kind::kU8:
      f(uint8_t{});
      return true;
    case Kind::kU16:
      f(uint16_t{});
      return true;
    case Kind::kU32:
      f(uint32_t{});
      return true;
    case Kind::kU64:
      f(uint64_t{});
      return true;
    case Kind::kBool:
      f(bool{});
      return true;
    case Kind::kUnsupported:
      return false;
  }
  return false;
}

// How a value of type T is stored: bool as one byte (any non-zero byte reads as true).
template <typename T>
using Storage = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;

// Float to integer: truncate toward zero, clamp to Dst's range, NaN to 0.
template <typename Dst>
Dst FloatToInt(double x) {
  if (x != x) return Dst{0};
  const double t = std::trunc(x);
  constexpr Dst kLo = std::numeric_limits<Dst>::lowest(), kHi = std::numeric_limits<Dst>::max();
  // kHi as a double may round up (e.g. 2^63); anything at or above it clamps.
  if (t <= static_cast<double>(kLo)) return kLo;
  if (t >= static_cast<double>(kHi)) return kHi;
  return static_cast<Dst>(t);
}

template <typename Src, typename Dst>
Dst Convert(Src x) {
  if constexpr (std::is_same_v<Dst, bool>) {
    return x != Src{0};  // NaN is true, as in numpy.
  } else if constexpr (std::is_floating_point_v<Src> && std::is_integral_v<Dst>) {
    return FloatToInt<Dst>(static_cast<double>(x));
  } else {
    // Integer to integer wraps modulo 2^bits (numpy's behaviour); the rest is exact or rounds.
    return static_cast<Dst>(x);
  }
}

template <typename Src, typename Dst>
void CastLoop(const char* in, char* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    Storage<Src> raw;
    memcpy(&raw, in + i * static_cast<int64_t>(sizeof(raw)), sizeof(raw));
    const Storage<Dst> value = static_cast<Storage<Dst>>(Convert<Src, Dst>(static_cast<Src>(raw)));
    memcpy(out + i * static_cast<int64_t>(sizeof(value)), &value, sizeof(value));
  }
}

}  // namespace

// out must not overlap in unless both have the same dtype.
int Cast(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  constexpr const char* kName = "cast";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0) return -1;
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  const Kind from = KindOf(in.dtype), to = KindOf(out.dtype);
  for (int i = 0; i < 2; ++i) {
    const DLDataType t = args[i]->dtype;
    if ((i == 0 ? from : to) == Kind::kUnsupported) {
      return Fail(error, kName, "argument %d has unsupported dtype (code %u, %u bits, %u lanes)", i,
                  unsigned{t.code}, unsigned{t.bits}, unsigned{t.lanes});
    }
  }
  if (internal::CheckShape(kName, "output", out, in.shape, in.ndim, error) != 0) return -1;
  const int64_t count = internal::NumElements(in);
  if (count == 0) return 0;
  const char* src = DataAs<const char>(in);
  char* dst = DataAs<char>(out);
  VisitKind(from, [&](auto src_tag) {
    VisitKind(
        to, [&](auto dst_tag) { CastLoop<decltype(src_tag), decltype(dst_tag)>(src, dst, count); });
  });
  return 0;
}

}  // namespace ferry::kernels
