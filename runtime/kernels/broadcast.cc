// Binary element-wise kernels (add, mul, sub, div, pow) with numpy broadcasting.
#include <cmath>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// Validates a, b -> out (float32, out.shape = broadcast shape) and computes
// out = op(a, b) element by element. Works in place when out aliases an operand of the
// output's shape.
template <typename Op>
int Binary(const char* name, DLTensor* const* args, int32_t num_args, FerryKernelError* error,
           Op op) {
  if (internal::CheckArgs(name, args, num_args, 3, 3, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& a = *args[0];
  const DLTensor& b = *args[1];
  const DLTensor& out = *args[2];
  // Right-aligned broadcast shape, with per-dimension element strides of a and b (0 where
  // that operand is broadcast).
  const int ndim = a.ndim > b.ndim ? a.ndim : b.ndim;
  int64_t shape[kMaxDims], a_stride[kMaxDims], b_stride[kMaxDims];
  int64_t a_run = 1, b_run = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    const int ai = i - (ndim - a.ndim), bi = i - (ndim - b.ndim);
    const int64_t da = ai >= 0 ? a.shape[ai] : 1, db = bi >= 0 ? b.shape[bi] : 1;
    if (da != db && da != 1 && db != 1) {
      return Fail(error, name, "shapes %s and %s do not broadcast", internal::FormatShape(a).text,
                  internal::FormatShape(b).text);
    }
    shape[i] = da == 1 ? db : da;
    a_stride[i] = da == 1 ? 0 : a_run;
    b_stride[i] = db == 1 ? 0 : b_run;
    a_run *= da;
    b_run *= db;
  }
  if (internal::CheckShape(name, "output", out, shape, ndim, error) != 0) return -1;
  const int64_t count = internal::Product(shape, 0, ndim);
  if (count == 0) return 0;
  const float* pa = DataAs<const float>(a);
  const float* pb = DataAs<const float>(b);
  float* po = DataAs<float>(out);
  if (a_run == count && b_run == count) {
    for (int64_t i = 0; i < count; ++i) po[i] = op(pa[i], pb[i]);
    return 0;
  }
  // Some operand broadcasts, so ndim >= 1. Walk the output row by row (last dimension innermost),
  // carrying the operand offsets.
  const int last = ndim - 1;
  const int64_t row = shape[last], sa = a_stride[last], sb = b_stride[last];
  const int64_t rows = count / row;
  int64_t index[kMaxDims] = {};
  int64_t a_off = 0, b_off = 0;
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = po + r * row;
    for (int64_t j = 0; j < row; ++j) dst[j] = op(pa[a_off + j * sa], pb[b_off + j * sb]);
    for (int d = last - 1; d >= 0; --d) {
      a_off += a_stride[d];
      b_off += b_stride[d];
      if (++index[d] < shape[d]) break;
      a_off -= a_stride[d] * shape[d];
      b_off -= b_stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return 0;
}

}  // namespace

int Add(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("add", args, num_args, error, [](float x, float y) { return x + y; });
}

int Mul(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("mul", args, num_args, error, [](float x, float y) { return x * y; });
}

int Sub(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("sub", args, num_args, error, [](float x, float y) { return x - y; });
}

// IEEE division: x / 0 is +-inf, 0 / 0 is NaN.
int Div(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("div", args, num_args, error, [](float x, float y) { return x / y; });
}

// std::pow on floats (powf), as ONNX's float32 reference computes it.
int Pow(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Binary("pow", args, num_args, error, [](float x, float y) { return std::pow(x, y); });
}

}  // namespace ferry::kernels
