#include "runtime/kernels/epilogue.h"

#include <vector>

#include "runtime/kernels/kernel_util.h"

namespace ferry::kernels::internal {

int EpilogueArgCount(const Epilogue& epilogue) {
  return (epilogue.bias ? 1 : 0) + (epilogue.batch_norm ? 4 : 0);
}

int CheckEpilogue(const char* kernel, const Epilogue& epilogue, DLTensor* const* extra,
                  int64_t channels, FerryKernelError* error) {
  if (epilogue.batch_norm && (!(epilogue.epsilon >= 0.0) || std::isinf(epilogue.epsilon))) {
    return Fail(error, kernel, "epsilon %g must be a non-negative number", epilogue.epsilon);
  }
  if (epilogue.activation != Activation::kNone && epilogue.activation != Activation::kRelu &&
      epilogue.activation != Activation::kClip) {
    return Fail(error, kernel, "activation %d is not one of none, relu, clip",
                static_cast<int>(epilogue.activation));
  }
  if (epilogue.activation == Activation::kClip && !(epilogue.clip_min <= epilogue.clip_max)) {
    return Fail(error, kernel, "clip min %g is not <= max %g", epilogue.clip_min,
                epilogue.clip_max);
  }
  static constexpr const char* kRoles[5] = {"bias", "gamma", "beta", "moving_mean",
                                            "moving_var"};
  const int first_role = epilogue.bias ? 0 : 1;
  for (int i = 0; i < EpilogueArgCount(epilogue); ++i) {
    if (CheckShape(kernel, kRoles[first_role + i], *extra[i], &channels, 1, error) != 0) {
      return -1;
    }
  }
  return 0;
}

namespace {

// One channel's rows with the epilogue's steps chosen at compile time, so the inner loop has
// no branches; the arithmetic is the same as bias_add, batch_norm, relu and clip's.
template <bool kBias, bool kBatchNorm, Activation kActivation>
void ApplyToChannel(float* out, int64_t outer, int64_t stride, int64_t inner, float b,
                    float mean, float scale, float shift, float lo, float hi) {
  for (int64_t o = 0; o < outer; ++o) {
    float* row = out + o * stride;
    for (int64_t j = 0; j < inner; ++j) {
      float x = row[j];
      if constexpr (kBias) x = x + b;
      if constexpr (kBatchNorm) x = BatchNormApply(x, mean, scale, shift);
      if constexpr (kActivation == Activation::kRelu) x = ReluApply(x);
      if constexpr (kActivation == Activation::kClip) x = ClipApply(x, lo, hi);
      row[j] = x;
    }
  }
}

// The same steps over rows of `channels` contiguous elements (inner == 1: dense and matmul
// outputs), row by row so that the loop runs along memory and vectorises; the per-channel
// operands come as arrays (unused ones may be null).
template <bool kBias, bool kBatchNorm, Activation kActivation>
void ApplyToRows(float* out, int64_t outer, int64_t channels, const float* b, const float* mean,
                 const float* scale, const float* shift, float lo, float hi) {
  for (int64_t o = 0; o < outer; ++o) {
    float* row = out + o * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) {
      float x = row[c];
      if constexpr (kBias) x = x + b[c];
      if constexpr (kBatchNorm) x = BatchNormApply(x, mean[c], scale[c], shift[c]);
      if constexpr (kActivation == Activation::kRelu) x = ReluApply(x);
      if constexpr (kActivation == Activation::kClip) x = ClipApply(x, lo, hi);
      row[c] = x;
    }
  }
}

using ChannelFn = void (*)(float*, int64_t, int64_t, int64_t, float, float, float, float, float,
                           float);
using RowsFn = void (*)(float*, int64_t, int64_t, const float*, const float*, const float*,
                        const float*, float, float);

// The instance of ApplyToChannel (kRows false) or ApplyToRows (kRows true) for `e`.
template <bool kRows, bool kBias, bool kBatchNorm, Activation kActivation>
auto Instance() {
  if constexpr (kRows) {
    return &ApplyToRows<kBias, kBatchNorm, kActivation>;
  } else {
    return &ApplyToChannel<kBias, kBatchNorm, kActivation>;
  }
}

template <bool kRows, bool kBias, bool kBatchNorm>
auto ForActivation(Activation activation) {
  switch (activation) {
    case Activation::kRelu: return Instance<kRows, kBias, kBatchNorm, Activation::kRelu>();
    case Activation::kClip: return Instance<kRows, kBias, kBatchNorm, Activation::kClip>();
    default: return Instance<kRows, kBias, kBatchNorm, Activation::kNone>();
  }
}

template <bool kRows>
auto Specialize(const Epilogue& e) {
  if (e.bias) {
    return e.batch_norm ? ForActivation<kRows, true, true>(e.activation)
                        : ForActivation<kRows, true, false>(e.activation);
  }
  return e.batch_norm ? ForActivation<kRows, false, true>(e.activation)
                      : ForActivation<kRows, false, false>(e.activation);
}

}  // namespace

void ApplyEpilogue(const Epilogue& epilogue, DLTensor* const* extra, float* out, int64_t outer,
                   int64_t channels, int64_t inner) {
  if (!epilogue.bias && !epilogue.batch_norm && epilogue.activation == Activation::kNone) return;
  const float* bias = epilogue.bias ? DataAs<const float>(*extra[0]) : nullptr;
  const float* bn[4] = {};
  if (epilogue.batch_norm) {
    for (int i = 0; i < 4; ++i) bn[i] = DataAs<const float>(*extra[(epilogue.bias ? 1 : 0) + i]);
  }
  const float lo = static_cast<float>(epilogue.clip_min);
  const float hi = static_cast<float>(epilogue.clip_max);
  if (inner == 1) {
    // Batch norm's per-channel scale once per channel, as below.
    std::vector<float> scale;
    if (epilogue.batch_norm) {
      scale.resize(channels);
      for (int64_t c = 0; c < channels; ++c) {
        scale[c] = BatchNormScale(bn[0][c], bn[3][c], epilogue.epsilon);
      }
    }
    const RowsFn apply = Specialize<true>(epilogue);
    apply(out, outer, channels, bias, bn[2], scale.data(), bn[1], lo, hi);
    return;
  }
  const ChannelFn apply = Specialize<false>(epilogue);
  for (int64_t c = 0; c < channels; ++c) {
    const float b = bias ? bias[c] : 0.0f;
    const float scale = epilogue.batch_norm ? BatchNormScale(bn[0][c], bn[3][c], epilogue.epsilon)
                                            : 1.0f;
    const float shift = epilogue.batch_norm ? bn[1][c] : 0.0f;
    const float mean = epilogue.batch_norm ? bn[2][c] : 0.0f;
    apply(out + c * inner, outer, channels * inner, inner, b, mean, scale, shift, lo, hi);
  }
}

}  // namespace ferry::kernels::internal
