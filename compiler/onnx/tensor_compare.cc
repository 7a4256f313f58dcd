#include "compiler/onnx/tensor_compare.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace ferry::compiler::onnx_import {
namespace {

template <typename T>
Status CompareFloats(const T* expected, const T* actual, int64_t count, double rtol, double atol) {
  int64_t mismatches = 0, worst = -1;
  double worst_excess = 0;
  auto mismatch = [&](int64_t i, double excess) {
    ++mismatches;
    if (worst < 0 || excess > worst_excess) {
      worst = i;
      worst_excess = excess;
    }
  };
  for (int64_t i = 0; i < count; ++i) {
    const double e = expected[i], a = actual[i];
    if (std::isnan(e) || std::isnan(a)) {
      if (std::isnan(e) != std::isnan(a)) mismatch(i, INFINITY);
    } else if (std::isinf(e) || std::isinf(a)) {
      if (e != a) mismatch(i, INFINITY);
    } else if (const double excess = std::fabs(a - e) - (atol + rtol * std::fabs(e)); excess > 0) {
      mismatch(i, excess);
    }
  }
  if (mismatches == 0) return Status::Ok();
  std::ostringstream message;
  message.precision(9);
  message << mismatches << " of " << count << " elements differ; worst at flat index " << worst
          << ": expected " << static_cast<double>(expected[worst]) << ", got "
          << static_cast<double>(actual[worst]);
  return InvalidArgumentError(message.str());
}

}  // namespace

Status CompareArrays(const NDArray& expected, const NDArray& actual, double rtol, double atol) {
  if (!(expected.dtype() == actual.dtype())) {
    return InvalidArgumentError("dtype " + actual.dtype().ToString() + ", expected " +
                                expected.dtype().ToString());
  }
  if (expected.shape() != actual.shape()) {
    return InvalidArgumentError("shape " + ShapeToString(actual.shape()) + ", expected " +
                                ShapeToString(expected.shape()));
  }
  const int64_t count = expected.NumElements();
  if (expected.dtype() == DataType::Float32()) {
    return CompareFloats(expected.data_as<const float>(), actual.data_as<const float>(), count,
                         rtol, atol);
  }
  if (expected.dtype() == DataType::Float64()) {
    return CompareFloats(expected.data_as<const double>(), actual.data_as<const double>(), count,
                         rtol, atol);
  }
  const size_t bytes = expected.dtype().bytes();
  for (int64_t i = 0; i < count; ++i) {
    if (std::memcmp(static_cast<const char*>(expected.data()) + i * bytes,
                    static_cast<const char*>(actual.data()) + i * bytes, bytes) != 0) {
      return InvalidArgumentError("element " + std::to_string(i) + " differs (exact " +
                                  expected.dtype().ToString() + " comparison)");
    }
  }
  return Status::Ok();
}

}  // namespace ferry::compiler::onnx_import
