// Converters of the element-wise and per-axis operators: activations and unary math, binary
// arithmetic with broadcasting, Clip, Softmax / LogSoftmax, ReduceMean / ReduceSum.
#include <cmath>
#include <limits>
#include <numeric>

#include "compiler/onnx/converters.h"

namespace ferry::compiler::onnx_import {

using Shape = std::vector<int64_t>;

Status ConvertUnary(NodeContext& ctx) {
  static constexpr struct {
    const char* onnx;
    const char* ferry;
  } kOps[] = {{"Relu", "relu"},       {"Sigmoid", "sigmoid"},   {"Tanh", "tanh"},
              {"Erf", "erf"},         {"Sqrt", "sqrt"},         {"Exp", "exp"},
              {"Neg", "neg"},         {"LeakyRelu", "leaky_relu"}, {"HardSigmoid", "hard_sigmoid"},
              {"HardSwish", "hard_swish"}, {"Log", "log"},      {"Abs", "abs"},
              {"Reciprocal", "reciprocal"}};
  const std::string& type = ctx.node().op_type();
  for (const auto& op : kOps) {
    if (type != op.onnx) continue;
    Attrs attrs;
    if (type == "LeakyRelu") {
      ASSIGN_OR_RETURN(double alpha, ctx.attrs().Float("alpha", 0.01));
      attrs["alpha"] = alpha;
    } else if (type == "HardSigmoid") {
      ASSIGN_OR_RETURN(double alpha, ctx.attrs().Float("alpha", 0.2));
      ASSIGN_OR_RETURN(double beta, ctx.attrs().Float("beta", 0.5));
      attrs["alpha"] = alpha;
      attrs["beta"] = beta;
    }
    ASSIGN_OR_RETURN(Value x, ctx.In(0));
    ASSIGN_OR_RETURN(Value y, ctx.Apply(op.ferry, {x}, attrs));
    return ctx.SetOutput(0, y);
  }
  return InternalError("no unary conversion for " + type);
}

namespace {

Attrs CastTo(DataType t) { return {{"code", int64_t{t.code}}, {"bits", int64_t{t.bits}}}; }

// Pow(T x, T1 y) -> T with T1 != T, as numpy computes it: an integer base with a float
// exponent in float64, anything else with the exponent converted to the base's type.
Status ConvertMixedPow(NodeContext& ctx, Value a, Value b) {
  const DataType base = a.info.dtype;
  if (base.code != kDLFloat && b.info.dtype.code == kDLFloat) {
    ASSIGN_OR_RETURN(a, ctx.Apply("cast", {a}, CastTo(DataType::Float64())));
    ASSIGN_OR_RETURN(b, ctx.Apply("cast", {b}, CastTo(DataType::Float64())));
    ASSIGN_OR_RETURN(Value p, ctx.Apply("pow", {a, b}));
    ASSIGN_OR_RETURN(Value y, ctx.Apply("cast", {p}, CastTo(base)));
    return ctx.SetOutput(0, y);
  }
  ASSIGN_OR_RETURN(b, ctx.Apply("cast", {b}, CastTo(base)));
  ASSIGN_OR_RETURN(Value y, ctx.Apply("pow", {a, b}));
  return ctx.SetOutput(0, y);
}

}  // namespace

Status ConvertBinary(NodeContext& ctx) {
  std::string op = ctx.node().op_type();
  for (char& c : op) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ASSIGN_OR_RETURN(Value a, ctx.In(0));
  ASSIGN_OR_RETURN(Value b, ctx.In(1));
  if (ctx.opset() < 7) {
    // Legacy broadcasting: with broadcast=1, B's dimensions line up with A's from `axis` on
    // (default: the trailing ones, as in numpy).
    ASSIGN_OR_RETURN(int64_t broadcast, ctx.attrs().Int("broadcast", 0));
    const int64_t a_rank = static_cast<int64_t>(a.info.shape.size());
    const int64_t b_rank = static_cast<int64_t>(b.info.shape.size());
    ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().Int("axis", a_rank - b_rank));
    if (broadcast != 0 && b_rank > 0 && b_rank < a_rank) {
      ASSIGN_OR_RETURN(axis, NormalizeOnnxAxis(axis, a_rank));
      if (axis + b_rank > a_rank) return InvalidArgumentError("axis does not fit B's rank");
      Shape aligned = b.info.shape;
      aligned.resize(static_cast<size_t>(a_rank - axis), 1);
      ASSIGN_OR_RETURN(b, ReshapeTo(ctx, b, aligned));
    } else if (broadcast == 0 && a.info.shape != b.info.shape) {
      return InvalidArgumentError("shapes differ and broadcast=0");
    }
  }
  if (op == "pow" && !(b.info.dtype == a.info.dtype)) return ConvertMixedPow(ctx, a, b);
  ASSIGN_OR_RETURN(Value y, ctx.Apply(op, {a, b}));
  return ctx.SetOutput(0, y);
}

Status ConvertClip(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  if (!(x.info.dtype == DataType::Float32())) {
    return UnimplementedError("Clip of " + x.info.dtype.ToString() + " (only float32)");
  }
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  if (ctx.opset() < 11) {
    ASSIGN_OR_RETURN(lo, ctx.attrs().Float("min", lo));
    ASSIGN_OR_RETURN(hi, ctx.attrs().Float("max", hi));
  } else {
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.Has(i)) continue;
      ASSIGN_OR_RETURN(std::vector<double> bound, ctx.ConstFloats(i));
      if (bound.size() != 1) return InvalidArgumentError("min and max must be scalars");
      (i == 1 ? lo : hi) = bound[0];
    }
  }
  if (!(lo <= hi)) {
    // ONNX: every element becomes max when min > max.
    lo = hi;
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("clip", {x}, {{"min", lo}, {"max", hi}}));
  return ctx.SetOutput(0, y);
}

Status ConvertSoftmax(NodeContext& ctx) {
  const bool log = ctx.node().op_type() == "LogSoftmax";
  const char* op = log ? "log_softmax" : "softmax";
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  const int64_t rank = static_cast<int64_t>(x.info.shape.size());
  if (ctx.opset() >= 13) {
    ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().Int("axis", -1));
    ASSIGN_OR_RETURN(Value y, ctx.Apply(op, {x}, {{"axis", axis}}));
    return ctx.SetOutput(0, y);
  }
  // Before opset 13 the input is coerced to 2-D at `axis` and normalised along its rows.
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs().Int("axis", 1));
  const int64_t axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
  if (axis < 0 || axis > rank) return InvalidArgumentError("axis out of range");
  const Shape& s = x.info.shape;
  const int64_t outer = std::accumulate(s.begin(), s.begin() + axis, int64_t{1}, std::multiplies<>());
  const int64_t inner = std::accumulate(s.begin() + axis, s.end(), int64_t{1}, std::multiplies<>());
  ASSIGN_OR_RETURN(Value flat, ReshapeTo(ctx, x, {outer, inner}));
  ASSIGN_OR_RETURN(Value y, ctx.Apply(op, {flat}, {{"axis", int64_t{-1}}}));
  ASSIGN_OR_RETURN(Value out, ReshapeTo(ctx, y, s));
  return ctx.SetOutput(0, out);
}

Status ConvertReduce(NodeContext& ctx) {
  const bool mean = ctx.node().op_type() == "ReduceMean";
  NodeAttributes& a = ctx.attrs();
  ASSIGN_OR_RETURN(int64_t keepdims, a.Int("keepdims", 1));
  std::vector<int64_t> axes;
  bool noop_with_empty_axes = false;
  if (!mean && ctx.opset() >= 13) {
    ASSIGN_OR_RETURN(int64_t noop, a.Int("noop_with_empty_axes", 0));
    noop_with_empty_axes = noop != 0;
    if (ctx.Has(1)) {
      ASSIGN_OR_RETURN(axes, ctx.ConstInts(1));
    }
  } else {
    ASSIGN_OR_RETURN(axes, a.Ints("axes", {}));
  }
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  if (axes.empty() && noop_with_empty_axes) {
    ASSIGN_OR_RETURN(Value y, ctx.Apply("copy", {x}));
    return ctx.SetOutput(0, y);
  }
  Attrs attrs = {{"keepdims", keepdims}};
  if (!axes.empty()) attrs["axes"] = axes;
  ASSIGN_OR_RETURN(Value y, ctx.Apply(mean ? "reduce_mean" : "reduce_sum", {x}, attrs));
  return ctx.SetOutput(0, y);
}

}  // namespace ferry::compiler::onnx_import
