// Lowerings of the element-wise operators (unary, clip, binary with broadcasting) and of the
// per-axis ones (softmax, log_softmax, reductions).
#include <algorithm>

#include "compiler/lowering_util.h"
#include "compiler/lowerings.h"

namespace ferry::compiler::lowering {
namespace {

struct UnaryEntry {
  const char* op;
  kernels::UnaryOp kind;
  const char* enumerator;
};

constexpr UnaryEntry kUnaryOps[] = {
    {"neg", kernels::UnaryOp::kNeg, "kNeg"},
    {"exp", kernels::UnaryOp::kExp, "kExp"},
    {"sqrt", kernels::UnaryOp::kSqrt, "kSqrt"},
    {"erf", kernels::UnaryOp::kErf, "kErf"},
    {"leaky_relu", kernels::UnaryOp::kLeakyRelu, "kLeakyRelu"},
    {"hard_sigmoid", kernels::UnaryOp::kHardSigmoid, "kHardSigmoid"},
    {"hard_swish", kernels::UnaryOp::kHardSwish, "kHardSwish"},
    {"log", kernels::UnaryOp::kLog, "kLog"},
    {"abs", kernels::UnaryOp::kAbs, "kAbs"},
    {"reciprocal", kernels::UnaryOp::kReciprocal, "kReciprocal"},
};

}  // namespace

StatusOr<OpLowering> LowerUnary(const std::string& op, Inputs in, const Attrs& attrs) {
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  if (op == "relu" || op == "sigmoid" || op == "tanh") {
    RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
    if (op == "relu") return Plain(in[0], "Relu", &kernels::Relu);
    if (op == "sigmoid") return Plain(in[0], "Sigmoid", &kernels::Sigmoid);
    return Plain(in[0], "Tanh", &kernels::Tanh);
  }
  const auto* entry = std::find_if(std::begin(kUnaryOps), std::end(kUnaryOps),
                                   [&](const UnaryEntry& e) { return op == e.op; });
  if (entry == std::end(kUnaryOps)) return NotFoundError("unknown unary operator '" + op + "'");
  kernels::UnaryAttrs k{entry->kind, 0.0, 0.0};
  if (op == "leaky_relu") {
    static constexpr std::string_view kKnown[] = {"alpha"};
    RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
    ASSIGN_OR_RETURN(k.alpha, GetFloatAttr(attrs, "alpha", 0.01));
  } else if (op == "hard_sigmoid") {
    static constexpr std::string_view kKnown[] = {"alpha", "beta"};
    RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
    ASSIGN_OR_RETURN(k.alpha, GetFloatAttr(attrs, "alpha", 0.2));
    ASSIGN_OR_RETURN(k.beta, GetFloatAttr(attrs, "beta", 0.5));
  } else {
    RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
  }
  return WithAttrs(in[0], "Unary", "UnaryAttrs",
                   std::string(".op = ferry::kernels::UnaryOp::") + entry->enumerator +
                       ", .alpha = " + FloatLiteral(k.alpha) + ", .beta = " + FloatLiteral(k.beta),
                   k, &kernels::Unary);
}

StatusOr<OpLowering> LowerClip(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"min", "max"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(double lo, GetFloatAttr(attrs, "min", 0.0));
  ASSIGN_OR_RETURN(double hi, GetFloatAttr(attrs, "max", 6.0));
  if (!(lo <= hi)) return InvalidArgumentError("min must not exceed max");
  return WithAttrs(in[0], "Clip", "ClipAttrs",
                   ".min = " + FloatLiteral(lo) + ", .max = " + FloatLiteral(hi),
                   kernels::ClipAttrs{lo, hi}, &kernels::Clip);
}

StatusOr<OpLowering> LowerBinary(const std::string& op, Inputs in, const Attrs& attrs) {
  static constexpr struct {
    const char* op;
    const char* kernel;
    KernelFn fn;
  } kBinaryOps[] = {{"add", "Add", &kernels::Add},
                    {"sub", "Sub", &kernels::Sub},
                    {"mul", "Mul", &kernels::Mul},
                    {"div", "Div", &kernels::Div},
                    {"pow", "Pow", &kernels::Pow}};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
  const DataType t = in[0].dtype;
  const bool supported = t.lanes == 1 && ((t.code == kDLFloat && (t.bits == 32 || t.bits == 64)) ||
                                          ((t.code == kDLInt || t.code == kDLUInt) &&
                                           (t.bits == 8 || t.bits == 16 || t.bits == 32 ||
                                            t.bits == 64)));
  if (!supported) return UnimplementedError("input 0 is " + t.ToString() + "; " + op +
                                            " supports float32/64 and 8-64 bit integers");
  if (!(in[1].dtype == t)) {
    return InvalidArgumentError("operands are " + t.ToString() + " and " +
                                in[1].dtype.ToString() + "; they must have one dtype");
  }
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(in[0].shape, in[1].shape));
  for (const auto& entry : kBinaryOps) {
    if (op == entry.op) return Plain(TensorInfo{out, t}, entry.kernel, entry.fn);
  }
  return NotFoundError("unknown binary operator '" + op + "'");
}

StatusOr<OpLowering> LowerSoftmax(Inputs in, const Attrs& attrs, bool log) {
  static constexpr std::string_view kKnown[] = {"axis"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t axis, GetIntAttr(attrs, "axis", -1));
  RETURN_IF_ERROR(NormalizeAxis(axis, in[0].shape.size()).status());
  return WithAttrs(in[0], log ? "LogSoftmax" : "Softmax", "SoftmaxAttrs",
                   ".axis = " + std::to_string(axis), kernels::SoftmaxAttrs{axis},
                   log ? &kernels::LogSoftmax : &kernels::Softmax);
}

StatusOr<OpLowering> LowerReduce(Inputs in, const Attrs& attrs, bool mean) {
  static constexpr std::string_view kKnown[] = {"axes", "keepdims"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  const size_t rank = in[0].shape.size();
  Shape all(rank);
  for (size_t i = 0; i < rank; ++i) all[i] = static_cast<int64_t>(i);
  ASSIGN_OR_RETURN(Shape axes, GetIntListAttr(attrs, "axes", all));
  ASSIGN_OR_RETURN(int64_t keepdims, GetIntAttr(attrs, "keepdims", 1));
  kernels::ReduceAttrs k;
  k.ndim = static_cast<int64_t>(rank);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, rank));
    if (k.reduce[axis]) return InvalidArgumentError("axis " + std::to_string(a) + " repeats");
    k.reduce[axis] = 1;
  }
  Shape out;
  for (size_t i = 0; i < rank; ++i) {
    if (!k.reduce[i]) {
      out.push_back(in[0].shape[i]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  return WithAttrs(TensorInfo{out, DataType::Float32()}, mean ? "ReduceMean" : "ReduceSum",
                   "ReduceAttrs",
                   ".ndim = " + std::to_string(rank) + ", .reduce = {" +
                       Join(std::span<const int64_t>(k.reduce, rank)) + "}",
                   k, mean ? &kernels::ReduceMean : &kernels::ReduceSum);
}

}  // namespace ferry::compiler::lowering
