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

void ApplyEpilogue(const Epilogue& epilogue, DLTensor* const* extra, float* out, int64_t outer,
                   int64_t channels, int64_t inner) {
  const float* bias = epilogue.bias ? DataAs<const float>(*extra[0]) : nullptr;
  const float* bn[4] = {};
  if (epilogue.batch_norm) {
    for (int i = 0; i < 4; ++i) bn[i] = DataAs<const float>(*extra[(epilogue.bias ? 1 : 0) + i]);
  }
  const float lo = static_cast<float>(epilogue.clip_min);
  const float hi = static_cast<float>(epilogue.clip_max);
  for (int64_t c = 0; c < channels; ++c) {
    const float b = bias ? bias[c] : 0.0f;
    const float scale = epilogue.batch_norm ? BatchNormScale(bn[0][c], bn[3][c], epilogue.epsilon)
                                            : 1.0f;
    const float shift = epilogue.batch_norm ? bn[1][c] : 0.0f;
    const float mean = epilogue.batch_norm ? bn[2][c] : 0.0f;
    for (int64_t o = 0; o < outer; ++o) {
      float* row = out + (o * channels + c) * inner;
      for (int64_t j = 0; j < inner; ++j) {
        float x = row[j];
        if (bias) x = x + b;
        if (epilogue.batch_norm) x = BatchNormApply(x, mean, scale, shift);
        if (epilogue.activation == Activation::kRelu) x = ReluApply(x);
        if (epilogue.activation == Activation::kClip) x = ClipApply(x, lo, hi);
        row[j] = x;
      }
    }
  }
}

}  // namespace ferry::kernels::internal
