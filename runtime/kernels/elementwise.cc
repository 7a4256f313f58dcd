// Unary element-wise kernels (relu, sigmoid, tanh, clip) and bias_add.
#include <cmath>

#include "runtime/kernels/epilogue.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// Validates in -> out (float32, same shape) and applies op to every element.
template <typename Op>
int Unary(const char* name, DLTensor* const* args, int32_t num_args, FerryKernelError* error,
          Op op) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0 ||
      internal::CheckShape(name, "output", *args[1], args[0]->shape, args[0]->ndim, error) !=
          0) {
    return -1;
  }
  const float* in = DataAs<const float>(*args[0]);
  float* out = DataAs<float>(*args[1]);
  const int64_t count = internal::NumElements(*args[0]);
  internal::ParallelFor(count, count, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = op(in[i]);
  });
  return 0;
}

}  // namespace

int Relu(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Unary("relu", args, num_args, error, [](float x) { return internal::ReluApply(x); });
}

int Sigmoid(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Unary("sigmoid", args, num_args, error,
               [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
}

int Tanh(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return Unary("tanh", args, num_args, error, [](float x) { return std::tanh(x); });
}

int Clip(const ClipAttrs& attrs, DLTensor* const* args, int32_t num_args,
         FerryKernelError* error) {
  if (!(attrs.min <= attrs.max)) {
    return Fail(error, "clip", "min %g is not <= max %g", attrs.min, attrs.max);
  }
  const float lo = static_cast<float>(attrs.min), hi = static_cast<float>(attrs.max);
  return Unary("clip", args, num_args, error,
               [lo, hi](float x) { return internal::ClipApply(x, lo, hi); });
}

int BiasAdd(const BiasAddAttrs& attrs, DLTensor* const* args, int32_t num_args,
            FerryKernelError* error) {
  constexpr const char* kName = "bias_add";
  if (internal::CheckArgs(kName, args, num_args, 3, 3, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  const DLTensor& bias = *args[1];
  const DLTensor& out = *args[2];
  int axis;
  if (internal::NormalizeAxis(kName, attrs.axis, data.ndim, &axis, error) != 0 ||
      internal::CheckShape(kName, "bias", bias, data.shape + axis, 1, error) != 0 ||
      internal::CheckShape(kName, "output", out, data.shape, data.ndim, error) != 0) {
    return -1;
  }
  const int64_t outer = internal::Product(data.shape, 0, axis);
  const int64_t channels = data.shape[axis];
  const int64_t inner = internal::Product(data.shape, axis + 1, data.ndim);
  const float* in = DataAs<const float>(data);
  const float* b = DataAs<const float>(bias);
  float* o = DataAs<float>(out);
  // One row of `inner` elements per (outer, channel) pair.
  internal::ParallelFor(outer * channels, outer * channels * inner, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float bc = b[r % channels];
      const int64_t base = r * inner;
      for (int64_t j = 0; j < inner; ++j) o[base + j] = in[base + j] + bc;
    }
  });
  return 0;
}

}  // namespace ferry::kernels
