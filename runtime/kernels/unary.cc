// unary: the float32 element-wise operators that ONNX import adds (neg, exp, sqrt, erf,
// leaky_relu, hard_sigmoid, hard_swish, identity, log, abs, reciprocal), one kernel selected
// by UnaryAttrs::op.
#include <cmath>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// The kernel name of each op in error messages; null for a value outside UnaryOp.
const char* UnaryName(UnaryOp op) {
  switch (op) {
    case UnaryOp::kNeg:
      return "unary(neg)";
    case UnaryOp::kExp:
      return "unary(exp)";
    case UnaryOp::kSqrt:
      return "unary(sqrt)";
    case UnaryOp::kErf:
      return "unary(erf)";
    case UnaryOp::kLeakyRelu:
      return "unary(leaky_relu)";
    case UnaryOp::kHardSigmoid:
      return "unary(hard_sigmoid)";
    case UnaryOp::kHardSwish:
      return "unary(hard_swish)";
    case UnaryOp::kIdentity:
      return "unary(identity)";
    case UnaryOp::kLog:
      return "unary(log)";
    case UnaryOp::kAbs:
      return "unary(abs)";
    case UnaryOp::kReciprocal:
      return "unary(reciprocal)";
  }
  return nullptr;
}

// min(1, max(0, v)); NaN stays NaN, as with numpy's clip.
float ClampUnit(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

// out[i] = op(in[i]) over `count` elements, on several threads when there are many. Works in
// place (out may alias in).
template <typename Op>
void Apply(const float* in, float* out, int64_t count, Op op) {
  internal::ParallelFor(count, count, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = op(in[i]);
  });
}

}  // namespace

int Unary(const UnaryAttrs& attrs, DLTensor* const* args, int32_t num_args,
          FerryKernelError* error) {
  const char* name = UnaryName(attrs.op);
  if (name == nullptr) {
    return Fail(error, "unary", "unknown op %d", static_cast<int>(attrs.op));
  }
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0 ||
      internal::CheckShape(name, "output", *args[1], args[0]->shape, args[0]->ndim, error) != 0) {
    return -1;
  }
  const int64_t count = internal::NumElements(*args[0]);
  if (count == 0) return 0;
  const float* in = DataAs<const float>(*args[0]);
  float* out = DataAs<float>(*args[1]);
  // Computed in float32 like ONNX's reference, with alpha and beta rounded to float.
  const float alpha = static_cast<float>(attrs.alpha), beta = static_cast<float>(attrs.beta);
  switch (attrs.op) {
    case UnaryOp::kNeg:
      Apply(in, out, count, [](float x) { return -x; });
      break;
    case UnaryOp::kExp:
      Apply(in, out, count, [](float x) { return std::exp(x); });
      break;
    case UnaryOp::kSqrt:
      Apply(in, out, count, [](float x) { return std::sqrt(x); });
      break;
    case UnaryOp::kErf:
      Apply(in, out, count, [](float x) { return std::erf(x); });
      break;
    case UnaryOp::kLeakyRelu:
      Apply(in, out, count, [alpha](float x) { return x >= 0.0f ? x : alpha * x; });
      break;
    case UnaryOp::kHardSigmoid:
      Apply(in, out, count, [alpha, beta](float x) { return ClampUnit(alpha * x + beta); });
      break;
    case UnaryOp::kHardSwish:
      // ONNX defines it as x * HardSigmoid(x) with alpha = 1/6 and beta = 0.5.
      Apply(in, out, count, [](float x) {
        constexpr float kSixth = 1.0f / 6.0f;
        return x * ClampUnit(kSixth * x + 0.5f);
      });
      break;
    case UnaryOp::kIdentity:
      Apply(in, out, count, [](float x) { return x; });
      break;
    case UnaryOp::kLog:
      Apply(in, out, count, [](float x) { return std::log(x); });
      break;
    case UnaryOp::kAbs:
      Apply(in, out, count, [](float x) { return std::fabs(x); });
      break;
    case UnaryOp::kReciprocal:
      Apply(in, out, count, [](float x) { return 1.0f / x; });
      break;
  }
  return 0;
}

}  // namespace ferry::kernels
