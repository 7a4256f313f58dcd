// Per-element arithmetic of bias_add, batch_norm, relu and clip, shared by those kernels and
// by the epilogues fused into conv2d and dense (kernels.h: Epilogue) so that a fused node
// computes bit-identical results; internal to ferry_kernels.
#ifndef FERRY_RUNTIME_KERNELS_EPILOGUE_H_
#define FERRY_RUNTIME_KERNELS_EPILOGUE_H_

#include <cmath>

#include "runtime/kernels/kernels.h"

namespace ferry::kernels::internal {

inline float BatchNormScale(float gamma, float var, double epsilon) {
  return static_cast<float>(static_cast<double>(gamma) /
                            std::sqrt(static_cast<double>(var) + epsilon));
}
inline float BatchNormApply(float x, float mean, float scale, float shift) {
  return (x - mean) * scale + shift;
}
inline float ReluApply(float x) { return x > 0.0f ? x : 0.0f; }
inline float ClipApply(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

// Number of extra inputs `epilogue` takes.
int EpilogueArgCount(const Epilogue& epilogue);

// Checks the epilogue's attributes and its `EpilogueArgCount` extra inputs (float32, shape
// [channels]). Call after CheckArgs / CheckFloat32 covered them.
int CheckEpilogue(const char* kernel, const Epilogue& epilogue, DLTensor* const* extra,
                  int64_t channels, FerryKernelError* error);

// Applies the epilogue in place to `out` viewed as [outer, channels, inner].
void ApplyEpilogue(const Epilogue& epilogue, DLTensor* const* extra, float* out, int64_t outer,
                   int64_t channels, int64_t inner);

}  // namespace ferry::kernels::internal

#endif  // FERRY_RUNTIME_KERNELS_EPILOGUE_H_
