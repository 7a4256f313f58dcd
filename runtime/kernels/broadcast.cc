// Binary element-wise kernels (add, mul, sub, div, pow) with numpy broadcasting, for float32,
// float64 and the integer dtypes.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// The broadcast geometry of a, b -> out: the right-aligned output shape and each operand's
// per-dimension element strides (0 where that operand is broadcast).
struct Broadcast {
  int ndim = 0;
  int64_t shape[kMaxDims] = {}, a_stride[kMaxDims] = {}, b_stride[kMaxDims] = {};
  int64_t count = 0;
  bool contiguous = false;  // neither operand broadcasts
};

// Computes out = op(a, b) element by element, on several threads for a large output;
// returns false when op reports a bad operand pair (integer division by zero). Works in place
// when out aliases an operand of the output's shape.
template <typename T, typename Op>
bool Compute(const Broadcast& g, const T* pa, const T* pb, T* po, Op op) {
  std::atomic<bool> failed{false};
  if (g.contiguous) {
    internal::ParallelFor(g.count, g.count, [&](int64_t begin, int64_t end) {
      bool ok = true;
      for (int64_t i = begin; i < end; ++i) po[i] = op(pa[i], pb[i], ok);
      if (!ok) failed.store(true, std::memory_order_relaxed);
    });
    return !failed.load();
  }
  // Some operand broadcasts, so ndim >= 1. Walk the output row by row (last dimension
  // innermost), carrying the operand offsets; each range of rows starts from its first row's
  // index.
  const int last = g.ndim - 1;
  const int64_t row = g.shape[last], sa = g.a_stride[last], sb = g.b_stride[last];
  const int64_t rows = g.count / row;
  internal::ParallelFor(rows, g.count, [&](int64_t begin, int64_t end) {
    int64_t index[kMaxDims] = {};
    int64_t a_off = 0, b_off = 0;
    for (int64_t d = last - 1, rest = begin; d >= 0; --d) {
      index[d] = rest % g.shape[d];
      rest /= g.shape[d];
      a_off += index[d] * g.a_stride[d];
      b_off += index[d] * g.b_stride[d];
    }
    bool ok = true;
    for (int64_t r = begin; r < end; ++r) {
      T* dst = po + r * row;
      for (int64_t j = 0; j < row; ++j) dst[j] = op(pa[a_off + j * sa], pb[b_off + j * sb], ok);
      for (int d = last - 1; d >= 0; --d) {
        a_off += g.a_stride[d];
        b_off += g.b_stride[d];
        if (++index[d] < g.shape[d]) break;
        a_off -= g.a_stride[d] * g.shape[d];
        b_off -= g.b_stride[d] * g.shape[d];
        index[d] = 0;
      }
    }
    if (!ok) failed.store(true, std::memory_order_relaxed);
  });
  return !failed.load();
}

template <typename T, typename Op>
int Run(const char* name, DLTensor* const* args, const Broadcast& g, FerryKernelError* error,
        Op op) {
  if (g.count == 0) return 0;
  if (!Compute(g, DataAs<const T>(*args[0]), DataAs<const T>(*args[1]), DataAs<T>(*args[2]), op)) {
    return Fail(error, name, "integer division by zero");
  }
  return 0;
}

// Validates a, b -> out (one dtype for all three, out.shape = broadcast shape) and runs
// `op` (a functor templated on the element type, taking (x, y, bool& ok)) for that dtype:
// float32, float64, int8-64 or uint8-64.
template <typename Op>
int Binary(const char* name, DLTensor* const* args, int32_t num_args, FerryKernelError* error,
           Op op) {
  if (internal::CheckArgs(name, args, num_args, 3, 3, error) != 0 ||
      internal::CheckSameDType(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& a = *args[0];
  const DLTensor& b = *args[1];
  const DLTensor& out = *args[2];
  Broadcast g;
  g.ndim = a.ndim > b.ndim ? a.ndim : b.ndim;
  int64_t a_run = 1, b_run = 1;
  for (int i = g.ndim - 1; i >= 0; --i) {
    const int ai = i - (g.ndim - a.ndim), bi = i - (g.ndim - b.ndim);
    const int64_t da = ai >= 0 ? a.shape[ai] : 1, db = bi >= 0 ? b.shape[bi] : 1;
    if (da != db && da != 1 && db != 1) {
      return Fail(error, name, "shapes %s and %s do not broadcast", internal::FormatShape(a).text,
                  internal::FormatShape(b).text);
    }
    g.shape[i] = da == 1 ? db : da;
    g.a_stride[i] = da == 1 ? 0 : a_run;
    g.b_stride[i] = db == 1 ? 0 : b_run;
    a_run *= da;
    b_run *= db;
  }
  if (internal::CheckShape(name, "output", out, g.shape, g.ndim, error) != 0) return -1;
  g.count = internal::Product(g.shape, 0, g.ndim);
  g.contiguous = a_run == g.count && b_run == g.count;
  const DLDataType t = a.dtype;
  if (t.lanes == 1 && t.code == kDLFloat && t.bits == 32) {
    if ((reinterpret_cast<uintptr_t>(DataAs<char>(a)) | reinterpret_cast<uintptr_t>(DataAs<char>(b)) |
         reinterpret_cast<uintptr_t>(DataAs<char>(out))) % alignof(float) != 0) {
      return Fail(error, name, "float32 data must be 4-byte aligned");
    }
    return Run<float>(name, args, g, error, op);
  }
  if (t.lanes == 1 && t.code == kDLFloat && t.bits == 64) return Run<double>(name, args, g, error, op);
  if (t.lanes == 1 && t.code == kDLInt) {
    switch (t.bits) {
      case 8: return Run<int8_t>(name, args, g, error, op);
      case 16: return Run<int16_t>(name, args, g, error, op);
      case 32: return Run<int32_t>(name, args, g, error, op);
      case 64: return Run<int64_t>(name, args, g, error, op);
    }
  }
  if (t.lanes == 1 && t.code == kDLUInt) {
    switch (t.bits) {
      case 8: return Run<uint8_t>(name, args, g, error, op);
      case 16: return Run<uint16_t>(name, args, g, error, op);
      case 32: return Run<uint32_t>(name, args, g, error, op);
      case 64: return Run<uint64_t>(name, args, g, error, op);
    }
  }
  return Fail(error, name, "unsupported dtype (code %d, %d bits, %d lanes)", t.code, t.bits,
              t.lanes);
}

// Integer arithmetic wraps around (as numpy's), computed in the unsigned type so that signed
// overflow is defined.
template <typename T>
using Unsigned = std::make_unsigned_t<T>;

struct AddOp {
  template <typename T>
  T operator()(T x, T y, bool&) const {
    if constexpr (std::is_integral_v<T>) {
      return static_cast<T>(static_cast<Unsigned<T>>(x) + static_cast<Unsigned<T>>(y));
    } else {
      return x + y;
    }
  }
};

struct SubOp {
  template <typename T>
  T operator()(T x, T y, bool&) const {
    if constexpr (std::is_integral_v<T>) {
      return static_cast<T>(static_cast<Unsigned<T>>(x) - static_cast<Unsigned<T>>(y));
    } else {
      return x - y;
    }
  }
};

struct MulOp {
  template <typename T>
  T operator()(T x, T y, bool&) const {
    if constexpr (std::is_integral_v<T>) {
      // Promote below int's width so unsigned short * unsigned short cannot overflow int.
      using Wide = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, Unsigned<T>>;
      return static_cast<T>(static_cast<Wide>(static_cast<Unsigned<T>>(x)) *
                            static_cast<Wide>(static_cast<Unsigned<T>>(y)));
    } else {
      return x * y;
    }
  }
};

// Floats: IEEE division (x / 0 is +-inf, 0 / 0 is NaN). Integers: truncation toward zero as
// in C; division by zero is an error, and the one overflowing quotient (min / -1) wraps.
struct DivOp {
  template <typename T>
  T operator()(T x, T y, bool& ok) const {
    if constexpr (std::is_integral_v<T>) {
      if (y == 0) {
        ok = false;
        return 0;
      }
      if constexpr (std::is_signed_v<T>) {
        if (y == -1) return SubOp()(T{0}, x, ok);
      }
      return static_cast<T>(x / y);
    } else {
      return x / y;
    }
  }
};

// Floats: std::pow in the element type (powf for float32, as ONNX's float32 reference).
// Integers: the power computed in double and converted back (exact below 2^53).
struct PowOp {
  template <typename T>
  T operator()(T x, T y, bool&) const {
    if constexpr (std::is_integral_v<T>) {
      const double p = std::pow(static_cast<double>(x), static_cast<double>(y));
      if (!(p >= static_cast<double>(std::numeric_limits<T>::min()) &&
            p <= static_cast<double>(std::numeric_limits<T>::max()))) {
        return 0;  // out of range (or NaN): C++ leaves the conversion undefined
      }
      return static_cast<T>(p);
    } else {
      return std::pow(x, y);
    }
  }
};

}  // namespace

int Add(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("add", args, num_args, error, AddOp());
}

int Mul(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("mul", args, num_args, error, MulOp());
}

int Sub(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("sub", args, num_args, error, SubOp());
}

int Div(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("div", args, num_args, error, DivOp());
}

int Pow(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("pow", args, num_args, error, PowOp());
}

}  // namespace ferry::kernels
