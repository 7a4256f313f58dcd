// Tensor and reference helpers shared by the CPU kernel tests (kernels_numeric_test.cc,
// kernels_elementwise_test.cc, kernels_error_test.cc).
#ifndef FERRY_TESTS_KERNELS_TEST_UTIL_H_
#define FERRY_TESTS_KERNELS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdint.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/kernels.h"

namespace ferry::kernels::test_util {

using Shape = std::vector<int64_t>;

inline constexpr DLDataType kFloat32{kDLFloat, 32, 1};

inline int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// A CPU tensor owning its data and shape. dl() returns a DLTensor viewing them; it stays valid
// until the Tensor is moved or its vectors are resized. T is the storage type; the DLPack
// dtype may differ (any dtype whose elements are `lanes` Ts).
template <typename T>
struct TypedTensor {
  explicit TypedTensor(Shape s, DLDataType type = kFloat32, int lanes = 1)
      : shape(std::move(s)), dtype(type), data(NumElements(shape) * lanes) {}

  DLTensor* dl() {
    view = DLTensor{};
    view.data = data.empty() ? nullptr : data.data();
    view.device = DLDevice{kDLCPU, 0};
    view.ndim = static_cast<int32_t>(shape.size());
    view.dtype = dtype;
    view.shape = shape.empty() ? nullptr : shape.data();
    view.strides = nullptr;
    view.byte_offset = 0;
    return &view;
  }

  Shape shape;
  DLDataType dtype;
  std::vector<T> data;
  DLTensor view{};
};
using Tensor = TypedTensor<float>;

inline std::mt19937& Rng() {
  static std::mt19937 rng(20240611);
  return rng;
}

inline Tensor Random(Shape shape, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t.data) v = dist(Rng());
  return t;
}

// Output buffer pre-filled with a sentinel so that unwritten elements show up.
inline Tensor Output(Shape shape) {
  Tensor t(std::move(shape));
  std::fill(t.data.begin(), t.data.end(), 12345.0f);
  return t;
}

inline Shape Strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t run = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = run;
    run *= shape[i];
  }
  return strides;
}

inline Shape Unravel(int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    index[i] = flat % shape[i];
    flat /= shape[i];
  }
  return index;
}

// Flat offset in an operand of `shape` of the right-aligned broadcast index `index`.
inline int64_t BroadcastOffset(const Shape& index, const Shape& shape) {
  const size_t lead = index.size() - shape.size();
  int64_t offset = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    offset = offset * shape[i] + (shape[i] == 1 ? 0 : index[lead + i]);
  }
  return offset;
}

inline void ExpectClose(const std::vector<float>& actual, const std::vector<float>& expected,
                        double tolerance = 1e-4) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const double scale = std::max(1.0, std::fabs(static_cast<double>(expected[i])));
    ASSERT_NEAR(actual[i], expected[i], tolerance * scale) << "at flat index " << i;
  }
}

// Runs a kernel on tensors and returns its status; on failure `message` holds the error.
using KernelFn = std::function<int(DLTensor* const*, int32_t, FerryKernelError*)>;

inline int Call(const KernelFn& fn, std::vector<DLTensor*> args, std::string* message = nullptr) {
  FerryKernelError error{};
  int rc = fn(args.data(), static_cast<int32_t>(args.size()), &error);
  if (message != nullptr) *message = error.message;
  return rc;
}

inline Pool2dAttrs MakePool(int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                            std::array<int64_t, 4> pad, bool ceil_mode, bool include_pad,
                            int64_t dh = 1, int64_t dw = 1) {
  Pool2dAttrs a;
  a.pool_size[0] = kh;
  a.pool_size[1] = kw;
  a.strides[0] = sh;
  a.strides[1] = sw;
  for (int i = 0; i < 4; ++i) a.padding[i] = pad[i];
  a.dilation[0] = dh;
  a.dilation[1] = dw;
  a.ceil_mode = ceil_mode;
  a.count_include_pad = include_pad;
  return a;
}

}  // namespace ferry::kernels::test_util

#endif  // FERRY_TESTS_KERNELS_TEST_UTIL_H_
