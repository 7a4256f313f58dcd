#include "runtime/kernels/epilogue.h"

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

using ChannelFn = void (*)(float*, int64_t, int64_t, int64_t, float, float, float, float, float,
                           float);

template <bool kBias, bool kBatchNorm>
ChannelFn ForActivation(Activation activation) {
  switch (activation) {
    case Activation::kRelu: return ApplyToChannel<kBias, kBatchNorm, Activation::kRelu>;
    case Activation::kClip: return ApplyToChannel<kBias, kBatchNorm, Activation::kClip>;
    default: return ApplyToChannel<kBias, kBatchNorm, Activation::kNone>;
  }
}

ChannelFn Specialize(const Epilogue& e) {
  if (e.bias) {
    return e.batch_norm ? ForActivation<true, true>(e.activation)
                        : ForActivation<true, false>(e.activation);
  }
  return e.batch_norm ? ForActivation<false, true>(e.activation)
                      : ForActivation<false, false>(e.activation);
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
  const ChannelFn apply = Specialize(epilogue);
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
