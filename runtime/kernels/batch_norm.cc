// batch_norm (inference) as a per-channel affine map.
#include <cmath>

#include "runtime/kernels/epilogue.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"

namespace ferry::kernels {

// args: data, gamma, beta, moving_mean, moving_var, out. epsilon must be a non-negative
// number; the statistics themselves are not checked (a negative variance gives NaN).
int BatchNorm(const BatchNormAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  constexpr const char* kName = "batch_norm";
  if (internal::CheckArgs(kName, args, num_args, 6, 6, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  if (!(attrs.epsilon >= 0.0) || std::isinf(attrs.epsilon)) {
    return internal::Fail(error, kName, "epsilon %g must be a non-negative number", attrs.epsilon);
  }
  const DLTensor& data = *args[0];
  int axis;
  if (internal::NormalizeAxis(kName, attrs.axis, data.ndim, &axis, error) != 0) return -1;
  static constexpr const char* kRoles[4] = {"gamma", "beta", "moving_mean", "moving_var"};
  for (int i = 0; i < 4; ++i) {
    if (internal::CheckShape(kName, kRoles[i], *args[1 + i], data.shape + axis, 1, error) != 0) {
      return -1;
    }
  }
  if (internal::CheckShape(kName, "output", *args[5], data.shape, data.ndim, error) != 0) {
    return -1;
  }
  const int64_t outer = internal::Product(data.shape, 0, axis);
  const int64_t channels = data.shape[axis];
  const int64_t inner = internal::Product(data.shape, axis + 1, data.ndim);
  if (outer * channels * inner == 0) return 0;
  const float* in = internal::DataAs<const float>(data);
  const float* gamma = internal::DataAs<const float>(*args[1]);
  const float* beta = internal::DataAs<const float>(*args[2]);
  const float* mean = internal::DataAs<const float>(*args[3]);
  const float* var = internal::DataAs<const float>(*args[4]);
  float* out = internal::DataAs<float>(*args[5]);
  // The per-channel scales once (recomputed per row only if no scratch memory is left).
  float* scales = internal::ScratchFloats(channels);
  if (scales != nullptr) {
    for (int64_t c = 0; c < channels; ++c) {
      scales[c] = internal::BatchNormScale(gamma[c], var[c], attrs.epsilon);
    }
  }
  // One row of `inner` elements per (outer, channel) pair.
  internal::ParallelFor(outer * channels, outer * channels * inner, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = r % channels;
      const float scale = scales != nullptr
                              ? scales[c]
                              : internal::BatchNormScale(gamma[c], var[c], attrs.epsilon);
      const float shift = beta[c];
      const float m = mean[c];
      const int64_t base = r * inner;
      for (int64_t j = 0; j < inner; ++j) {
        out[base + j] = internal::BatchNormApply(in[base + j], m, scale, shift);
      }
    }
  });
  return 0;
}

}  // namespace ferry::kernels
