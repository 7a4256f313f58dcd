// softmax and log_softmax along one axis, numerically stable.
#include <cmath>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {

// in -> out of the same shape. Works in place (out may alias in).
int Softmax(const SoftmaxAttrs& attrs, DLTensor* const* args, int32_t num_args,
            FerryKernelError* error) {
  constexpr const char* kName = "softmax";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  int axis;
  if (internal::NormalizeAxis(kName, attrs.axis, data.ndim, &axis, error) != 0 ||
      internal::CheckShape(kName, "output", *args[1], data.shape, data.ndim, error) != 0) {
    return -1;
  }
  const int64_t outer = internal::Product(data.shape, 0, axis);
  const int64_t length = data.shape[axis];
  const int64_t inner = internal::Product(data.shape, axis + 1, data.ndim);
  if (outer * length * inner == 0) return 0;
  const float* in = internal::DataAs<const float>(data);
  float* out = internal::DataAs<float>(*args[1]);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      // Element t of this row is at base + t * inner.
      const int64_t base = o * length * inner + j;
      float max = in[base];
      for (int64_t t = 1; t < length; ++t) {
        const float v = in[base + t * inner];
        if (v > max) max = v;
      }
      double sum = 0.0;
      for (int64_t t = 0; t < length; ++t) {
        const float e = std::exp(in[base + t * inner] - max);
        out[base + t * inner] = e;
        sum += e;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t t = 0; t < length; ++t) out[base + t * inner] *= inv;
    }
  }
  return 0;
}

// in -> out of the same shape, out = x - max - log(sum(exp(x - max))) along the axis, with
// the sum accumulated in double. Works in place (out may alias in).
int LogSoftmax(const SoftmaxAttrs& attrs, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error) {
  constexpr const char* kName = "log_softmax";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  int axis;
  if (internal::NormalizeAxis(kName, attrs.axis, data.ndim, &axis, error) != 0 ||
      internal::CheckShape(kName, "output", *args[1], data.shape, data.ndim, error) != 0) {
    return -1;
  }
  const int64_t outer = internal::Product(data.shape, 0, axis);
  const int64_t length = data.shape[axis];
  const int64_t inner = internal::Product(data.shape, axis + 1, data.ndim);
  if (outer * length * inner == 0) return 0;
  const float* in = internal::DataAs<const float>(data);
  float* out = internal::DataAs<float>(*args[1]);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t base = o * length * inner + j;
      float max = in[base];
      for (int64_t t = 1; t < length; ++t) {
        const float v = in[base + t * inner];
        if (v > max) max = v;
      }
      double sum = 0.0;
      for (int64_t t = 0; t < length; ++t) sum += std::exp(in[base + t * inner] - max);
      const float log_sum = static_cast<float>(std::log(sum));
      for (int64_t t = 0; t < length; ++t) {
        out[base + t * inner] = (in[base + t * inner] - max) - log_sum;
      }
    }
  }
  return 0;
}

}  // namespace ferry::kernels
