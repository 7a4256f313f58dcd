// softmax and log_softmax along one axis, numerically stable.
#include <cmath>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"
#include "runtime/kernels/vector_math.h"

namespace ferry::kernels {
namespace {

// Validates in -> out (float32, same shape) and calls row(in, out, length, stride) for every
// row along the axis, on several threads for a large tensor (each row on one): element t of
// a row is at t * stride. Works in place (out may alias in).
template <typename Row>
int ForEachRow(const char* name, const SoftmaxAttrs& attrs, DLTensor* const* args,
               int32_t num_args, FerryKernelError* error, Row row) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  int axis;
  if (internal::NormalizeAxis(name, attrs.axis, data.ndim, &axis, error) != 0 ||
      internal::CheckShape(name, "output", *args[1], data.shape, data.ndim, error) != 0) {
    return -1;
  }
  const int64_t outer = internal::Product(data.shape, 0, axis);
  const int64_t length = data.shape[axis];
  const int64_t inner = internal::Product(data.shape, axis + 1, data.ndim);
  if (outer * length * inner == 0) return 0;
  const float* in = internal::DataAs<const float>(data);
  float* out = internal::DataAs<float>(*args[1]);
  internal::ParallelFor(outer * inner, outer * length * inner, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t base = (r / inner) * length * inner + r % inner;
      row(in + base, out + base, length, inner);
    }
  });
  return 0;
}

float RowMax(const float* in, int64_t length, int64_t stride) {
  float max = in[0];
  for (int64_t t = 1; t < length; ++t) {
    if (in[t * stride] > max) max = in[t * stride];
  }
  return max;
}

}  // namespace

int Softmax(const SoftmaxAttrs& attrs, DLTensor* const* args, int32_t num_args,
            FerryKernelError* error) {
  return ForEachRow("softmax", attrs, args, num_args, error,
                    [](const float* in, float* out, int64_t length, int64_t stride) {
                      const float max = RowMax(in, length, stride);
                      double sum = 0.0;
                      if (stride == 1) {
                        // The common case (the last axis): vectorised, sums in vector lanes.
#pragma omp simd
                        for (int64_t t = 0; t < length; ++t) {
                          out[t] = internal::VectorExp(in[t] - max);
                        }
                        // In float vector lanes within blocks, the blocks in double.
                        constexpr int64_t kBlock = 256;
                        for (int64_t b = 0; b < length; b += kBlock) {
                          const int64_t block_end = b + kBlock < length ? b + kBlock : length;
                          float block = 0.0f;
#pragma omp simd reduction(+ : block)
                          for (int64_t t = b; t < block_end; ++t) block += out[t];
                          sum += block;
                        }
                      } else {
                        for (int64_t t = 0; t < length; ++t) {
                          const float e = internal::VectorExp(in[t * stride] - max);
                          out[t * stride] = e;
                          sum += e;
                        }
                      }
                      const float inv = static_cast<float>(1.0 / sum);
                      for (int64_t t = 0; t < length; ++t) out[t * stride] *= inv;
                    });
}

// out = x - max - log(sum(exp(x - max))) along the axis, the sum accumulated in double.
int LogSoftmax(const SoftmaxAttrs& attrs, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error) {
  return ForEachRow("log_softmax", attrs, args, num_args, error,
                    [](const float* in, float* out, int64_t length, int64_t stride) {
                      const float max = RowMax(in, length, stride);
                      double sum = 0.0;
                      for (int64_t t = 0; t < length; ++t) sum += std::exp(in[t * stride] - max);
                      const float log_sum = static_cast<float>(std::log(sum));
                      for (int64_t t = 0; t < length; ++t) {
                        out[t * stride] = (in[t * stride] - max) - log_sum;
                      }
                    });
}

}  // namespace ferry::kernels
