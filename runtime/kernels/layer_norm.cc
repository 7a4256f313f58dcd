// layer_norm: normalisation over the trailing dimensions, with a per-element scale and bias.
#include <cmath>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"

namespace ferry::kernels {

// args: data, scale, [bias], out. Works in place (out may alias data).
int LayerNorm(const LayerNormAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  constexpr const char* kName = "layer_norm";
  if (internal::CheckArgs(kName, args, num_args, 3, 4, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const bool has_bias = num_args == 4;
  const DLTensor& data = *args[0];
  const DLTensor& scale = *args[1];
  const DLTensor& out = *args[num_args - 1];
  if (!(attrs.epsilon >= 0.0 && std::isfinite(attrs.epsilon))) {
    return internal::Fail(error, kName, "epsilon %g must be non-negative and finite",
                          attrs.epsilon);
  }
  int axis;
  if (internal::NormalizeAxis(kName, attrs.axis, data.ndim, &axis, error) != 0 ||
      internal::CheckShape(kName, "output", out, data.shape, data.ndim, error) != 0) {
    return -1;
  }
  const int64_t outer = internal::Product(data.shape, 0, axis);
  const int64_t inner = internal::Product(data.shape, axis, data.ndim);
  for (int i = 1; i < (has_bias ? 3 : 2); ++i) {
    const int64_t count = internal::NumElements(*args[i]);
    if (count != inner) {
      return internal::Fail(error, kName,
                            "%s shape %s has %lld elements, the normalised dimensions %lld",
                            i == 1 ? "scale" : "bias", internal::FormatShape(*args[i]).text,
                            static_cast<long long>(count), static_cast<long long>(inner));
    }
  }
  if (outer * inner == 0) return 0;
  const float* in = internal::DataAs<const float>(data);
  const float* gamma = internal::DataAs<const float>(scale);
  const float* beta = has_bias ? internal::DataAs<const float>(*args[2]) : nullptr;
  float* dst = internal::DataAs<float>(out);
  // Each normalised row on one thread, its sums in a fixed order (vector lanes, then across
  // them), so the result does not depend on the thread count.
  internal::ParallelFor(outer, outer * inner, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const float* x = in + o * inner;
      float* y = dst + o * inner;
      double sum = 0.0;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < inner; ++i) sum += x[i];
      const double mean = sum / static_cast<double>(inner);
      double squares = 0.0;
#pragma omp simd reduction(+ : squares)
      for (int64_t i = 0; i < inner; ++i) {
        const double centred = x[i] - mean;
        squares += centred * centred;
      }
      const double inverse_std_dev =
          1.0 / std::sqrt(squares / static_cast<double>(inner) + attrs.epsilon);
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) {
        const float normalised = static_cast<float>((x[i] - mean) * inverse_std_dev);
        y[i] = has_bias ? normalised * gamma[i] + beta[i] : normalised * gamma[i];
      }
    }
  });
  return 0;
}

}  // namespace ferry::kernels
