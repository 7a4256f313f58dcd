// Converters of the neural-network operators: Conv, ConvTranspose, Gemm, MatMul,
// BatchNormalization, the pools and LayerNormalization.
#include <algorithm>

#include "compiler/onnx/converters.h"

namespace ferry::compiler::onnx_import {
namespace {

using Shape = std::vector<int64_t>;

// The sliding-window attributes of Conv, ConvTranspose and the pools for a 2-D window (1-D
// windows are lifted to 2-D with a unit height) or a 3-D one.
struct Window2d {
  Shape kernel, strides, dilations, pads;  // pads as top, left, bottom, right
};

// Reads kernel_shape / strides / dilations / pads / auto_pad for `spatial` (1 or 2) spatial
// dimensions of `in_spatial` sizes. Transposed convolutions resolve auto_pad themselves.
StatusOr<Window2d> ReadWindow(NodeContext& ctx, const Shape& kernel_from_weight,
                              const Shape& in_spatial, bool has_dilations, bool transposed) {
  const size_t spatial = in_spatial.size();
  NodeAttributes& a = ctx.attrs();
  Window2d w;
  ASSIGN_OR_RETURN(Shape kernel, a.Ints("kernel_shape", kernel_from_weight));
  if (kernel.size() != spatial) {
    return InvalidArgumentError("kernel_shape must have " + std::to_string(spatial) + " values");
  }
  if (!kernel_from_weight.empty() && kernel != kernel_from_weight) {
    return InvalidArgumentError("kernel_shape " + ShapeToString(kernel) +
                                " does not match the weight's " + ShapeToString(kernel_from_weight));
  }
  ASSIGN_OR_RETURN(Shape strides, a.Ints("strides", Shape(spatial, 1)));
  Shape dilations(spatial, 1);
  if (has_dilations) {
    ASSIGN_OR_RETURN(dilations, a.Ints("dilations", Shape(spatial, 1)));
  }
  ASSIGN_OR_RETURN(Shape pads, a.Ints("pads", Shape(2 * spatial, 0)));
  ASSIGN_OR_RETURN(std::string auto_pad, a.String("auto_pad", "NOTSET"));
  if (strides.size() != spatial || dilations.size() != spatial || pads.size() != 2 * spatial) {
    return InvalidArgumentError("strides, dilations and pads do not match the spatial rank " +
                                std::to_string(spatial));
  }
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    if (transposed) return UnimplementedError("auto_pad " + auto_pad + " without output_shape");
    for (size_t i = 0; i < spatial; ++i) {
      if (strides[i] < 1) return InvalidArgumentError("strides must be positive");
      const int64_t out = (in_spatial[i] + strides[i] - 1) / strides[i];
      const int64_t total = std::max<int64_t>(
          0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_spatial[i]);
      const int64_t small = total / 2, large = total - total / 2;
      pads[i] = auto_pad == "SAME_UPPER" ? small : large;
      pads[i + spatial] = auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad == "VALID") {
    std::fill(pads.begin(), pads.end(), 0);
  } else if (auto_pad != "NOTSET") {
    return InvalidArgumentError("unknown auto_pad '" + auto_pad + "'");
  }
  if (spatial == 1) {
    w.kernel = {1, kernel[0]};
    w.strides = {1, strides[0]};
    w.dilations = {1, dilations[0]};
    w.pads = {0, pads[0], 0, pads[1]};
  } else {
    w = {kernel, strides, dilations, pads};
  }
  return w;
}

Attrs WindowAttrs(const Window2d& w, bool with_dilation = true) {
  Attrs attrs = {{"strides", w.strides}, {"padding", w.pads}};
  if (with_dilation) attrs["dilation"] = w.dilations;
  return attrs;
}

// Checks that `v` is N, C and 1 or 2 (or, with `allow_3d`, 3) spatial dimensions; returns
// the spatial sizes.
StatusOr<Shape> SpatialDims(const Value& v, const char* role, bool allow_3d) {
  const Shape& s = v.info.shape;
  if (s.size() == 5 && allow_3d) return Shape(s.begin() + 2, s.end());
  if (s.size() == 5) {
    return UnimplementedError(std::string(role) + " " + v.info.ToString() +
                              ": 3-D is not supported for this operator");
  }
  if (s.size() != 3 && s.size() != 4) {
    return InvalidArgumentError(std::string(role) + " must be NCW or NCHW, got " +
                                v.info.ToString());
  }
  return Shape(s.begin() + 2, s.end());
}

// Lifts an NCW value to NC1W (identity for NCHW).
StatusOr<Value> To2d(NodeContext& ctx, const Value& v) {
  const Shape& s = v.info.shape;
  if (s.size() == 4) return v;
  return ReshapeTo(ctx, v, {s[0], s[1], 1, s[2]});
}

// Drops the unit height again when the node's input was 1-D.
StatusOr<Value> From2d(NodeContext& ctx, const Value& v, size_t spatial) {
  if (spatial == 2) return v;
  const Shape& s = v.info.shape;
  return ReshapeTo(ctx, v, {s[0], s[1], s[3]});
}

// The data and weight of Conv / ConvTranspose with their spatial sizes.
struct ConvOperands {
  Value x, weight;
  Shape spatial, kernel;
};

StatusOr<ConvOperands> ReadConvOperands(NodeContext& ctx, bool allow_3d) {
  ConvOperands c;
  ASSIGN_OR_RETURN(c.x, ctx.In(0));
  ASSIGN_OR_RETURN(c.weight, ctx.In(1));
  ASSIGN_OR_RETURN(c.spatial, SpatialDims(c.x, "input", allow_3d));
  if (c.weight.info.shape.size() != c.x.info.shape.size()) {
    return InvalidArgumentError("weight " + c.weight.info.ToString() + " does not match input " +
                                c.x.info.ToString());
  }
  c.kernel.assign(c.weight.info.shape.begin() + 2, c.weight.info.shape.end());
  return c;
}

}  // namespace

Status ConvertConv(NodeContext& ctx) {
  ASSIGN_OR_RETURN(ConvOperands c, ReadConvOperands(ctx, true));
  const Value& x = c.x;
  const Value& weight = c.weight;
  const Shape& spatial = c.spatial;
  const Shape& kernel = c.kernel;
  ASSIGN_OR_RETURN(Window2d w, ReadWindow(ctx, kernel, spatial, true, false));
  ASSIGN_OR_RETURN(int64_t group, ctx.attrs().Int("group", 1));
  Attrs attrs = WindowAttrs(w);
  attrs["groups"] = group;
  if (spatial.size() == 3) {
    ASSIGN_OR_RETURN(Value y, ctx.Apply("conv3d", {x, weight}, attrs));
    if (ctx.Has(2)) {
      ASSIGN_OR_RETURN(Value bias, ctx.In(2));
      ASSIGN_OR_RETURN(y, ctx.Apply("bias_add", {y, bias}, {{"axis", int64_t{1}}}));
    }
    return ctx.SetOutput(0, y);
  }
  std::vector<Value> inputs;
  ASSIGN_OR_RETURN(Value x2, To2d(ctx, x));
  ASSIGN_OR_RETURN(Value w2, To2d(ctx, weight));
  inputs = {x2, w2};
  if (ctx.Has(2)) {
    ASSIGN_OR_RETURN(Value bias, ctx.In(2));
    inputs.push_back(bias);
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("conv2d", inputs, attrs));
  ASSIGN_OR_RETURN(Value out, From2d(ctx, y, spatial.size()));
  return ctx.SetOutput(0, out);
}

Status ConvertConvTranspose(NodeContext& ctx) {
  ASSIGN_OR_RETURN(ConvOperands c, ReadConvOperands(ctx, false));
  const Value& x = c.x;
  const Value& weight = c.weight;
  const Shape& spatial = c.spatial;
  const Shape& kernel = c.kernel;
  const size_t n = spatial.size();
  NodeAttributes& a = ctx.attrs();
  ASSIGN_OR_RETURN(Shape output_shape, a.Ints("output_shape", {}));
  ASSIGN_OR_RETURN(Shape output_padding, a.Ints("output_padding", Shape(n, 0)));
  ASSIGN_OR_RETURN(std::string auto_pad, a.String("auto_pad", "NOTSET"));
  const bool explicit_output = !output_shape.empty() || auto_pad == "SAME_UPPER" ||
                               auto_pad == "SAME_LOWER";
  if (explicit_output) a.Ignore("auto_pad");
  ASSIGN_OR_RETURN(Window2d w, ReadWindow(ctx, kernel, spatial, true, !explicit_output));
  if (output_padding.size() != n) return InvalidArgumentError("output_padding has the wrong length");
  if (explicit_output) {
    // ONNX: total_padding = stride * (in - 1) + output_padding + ((k - 1) * d + 1) - out.
    if (output_shape.empty()) {
      for (size_t i = 0; i < n; ++i) output_shape.push_back(spatial[i] * w.strides[2 - n + i]);
    }
    if (output_shape.size() == n + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
    if (output_shape.size() != n) return InvalidArgumentError("output_shape has the wrong length");
    for (size_t i = 0; i < n; ++i) {
      const size_t axis = 2 - n + i;
      const int64_t total = w.strides[axis] * (spatial[i] - 1) + output_padding[i] +
                            (kernel[i] - 1) * w.dilations[axis] + 1 - output_shape[i];
      if (total < 0) {
        // A larger output than the full transposed convolution: the extra rows or columns
        // at the end only receive the bias, as output_padding would give them.
        output_padding[i] -= total;
        w.pads[axis] = w.pads[axis + 2] = 0;
        continue;
      }
      const bool upper = auto_pad == "SAME_UPPER";
      w.pads[axis] = upper ? total / 2 : total - total / 2;
      w.pads[axis + 2] = upper ? total - total / 2 : total / 2;
    }
  }
  ASSIGN_OR_RETURN(int64_t group, a.Int("group", 1));
  Attrs attrs = WindowAttrs(w);
  attrs["groups"] = group;
  attrs["output_padding"] = n == 1 ? Shape{0, output_padding[0]} : output_padding;
  ASSIGN_OR_RETURN(Value x2, To2d(ctx, x));
  ASSIGN_OR_RETURN(Value w2, To2d(ctx, weight));
  ASSIGN_OR_RETURN(Value y, ctx.Apply("conv2d_transpose", {x2, w2}, attrs));
  if (ctx.Has(2)) {
    ASSIGN_OR_RETURN(Value bias, ctx.In(2));
    ASSIGN_OR_RETURN(y, ctx.Apply("bias_add", {y, bias}, {{"axis", int64_t{1}}}));
  }
  ASSIGN_OR_RETURN(Value out, From2d(ctx, y, n));
  return ctx.SetOutput(0, out);
}

Status ConvertGemm(NodeContext& ctx) {
  NodeAttributes& a = ctx.attrs();
  // Opsets < 7: C broadcasts when broadcast=1, else has the output's shape; numpy
  // broadcasting covers both.
  a.Ignore("broadcast");
  ASSIGN_OR_RETURN(double alpha, a.Float("alpha", 1.0));
  ASSIGN_OR_RETURN(double beta, a.Float("beta", 1.0));
  ASSIGN_OR_RETURN(int64_t trans_a, a.Int("transA", 0));
  ASSIGN_OR_RETURN(int64_t trans_b, a.Int("transB", 0));
  ASSIGN_OR_RETURN(Value A, ctx.In(0));
  ASSIGN_OR_RETURN(Value B, ctx.In(1));
  if (A.info.shape.size() != 2 || B.info.shape.size() != 2) {
    return InvalidArgumentError("A and B must be matrices, got " + A.info.ToString() + " and " +
                                B.info.ToString());
  }
  Value y;
  if (!trans_a && (trans_b || B.is_constant())) {
    // dense wants the weight as [N, K]; a constant B is transposed once, here.
    if (!trans_b) {
      ASSIGN_OR_RETURN(B, ctx.Apply("transpose", {B}, {{"axes", Shape{1, 0}}}));
    }
    ASSIGN_OR_RETURN(y, ctx.Apply("dense", {A, B}));
  } else {
    ASSIGN_OR_RETURN(y, ctx.Apply("matmul", {A, B},
                                  {{"transpose_a", trans_a}, {"transpose_b", trans_b}}));
  }
  if (alpha != 1.0) {
    ASSIGN_OR_RETURN(Value scale, ScalarConstant(ctx, static_cast<float>(alpha)));
    ASSIGN_OR_RETURN(y, ctx.Apply("mul", {y, scale}));
  }
  if (ctx.Has(2) && beta != 0.0) {
    ASSIGN_OR_RETURN(Value c, ctx.In(2));
    if (beta != 1.0) {
      ASSIGN_OR_RETURN(Value scale, ScalarConstant(ctx, static_cast<float>(beta)));
      ASSIGN_OR_RETURN(c, ctx.Apply("mul", {c, scale}));
    }
    ASSIGN_OR_RETURN(y, ctx.Apply("add", {y, c}));
  }
  return ctx.SetOutput(0, y);
}

Status ConvertMatMul(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value A, ctx.In(0));
  ASSIGN_OR_RETURN(Value B, ctx.In(1));
  const Shape a_shape = A.info.shape, b_shape = B.info.shape;
  if (a_shape.empty() || b_shape.empty()) return InvalidArgumentError("operands must not be scalars");
  // numpy.matmul: a 1-D operand gains a unit dimension that the result drops again.
  if (a_shape.size() == 1) {
    ASSIGN_OR_RETURN(A, ReshapeTo(ctx, A, {1, a_shape[0]}));
  }
  if (b_shape.size() == 1) {
    ASSIGN_OR_RETURN(B, ReshapeTo(ctx, B, {b_shape[0], 1}));
  }
  Value y;
  if (A.info.shape.size() == 2 && B.info.shape.size() == 2 && B.is_constant()) {
    ASSIGN_OR_RETURN(Value bt, ctx.Apply("transpose", {B}, {{"axes", Shape{1, 0}}}));
    ASSIGN_OR_RETURN(y, ctx.Apply("dense", {A, bt}));
  } else {
    ASSIGN_OR_RETURN(y, ctx.Apply("matmul", {A, B}));
  }
  Shape out = y.info.shape;
  if (a_shape.size() == 1) out.erase(out.end() - 2);
  if (b_shape.size() == 1) out.pop_back();
  if (out != y.info.shape) {
    ASSIGN_OR_RETURN(y, ReshapeTo(ctx, y, out));
  }
  return ctx.SetOutput(0, y);
}

Status ConvertBatchNormalization(NodeContext& ctx) {
  NodeAttributes& a = ctx.attrs();
  ASSIGN_OR_RETURN(double epsilon, a.Float("epsilon", 1e-5));
  a.Ignore("momentum");  // only updates running statistics in training
  ASSIGN_OR_RETURN(int64_t spatial, a.Int("spatial", 1));
  ASSIGN_OR_RETURN(int64_t training, a.Int("training_mode", 0));
  ASSIGN_OR_RETURN(int64_t is_test, a.Int("is_test", ctx.opset() < 7 ? 0 : 1));  // opsets < 7
  if (is_test == 0) training = 1;
  if (spatial != 1) return UnimplementedError("spatial=0 (per-activation statistics)");
  if (training != 0 || ctx.OutputUsed(1) || ctx.OutputUsed(2) || ctx.OutputUsed(3) ||
      ctx.OutputUsed(4)) {
    return UnimplementedError("training mode (running statistics outputs)");
  }
  std::vector<Value> inputs;
  for (size_t i = 0; i < 5; ++i) {
    ASSIGN_OR_RETURN(Value v, ctx.In(i));
    inputs.push_back(v);
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("batch_norm", inputs,
                                      {{"axis", int64_t{1}}, {"epsilon", epsilon}}));
  return ctx.SetOutput(0, y);
}

namespace {

Status ConvertPool(NodeContext& ctx, bool is_max) {
  if (ctx.OutputUsed(1)) return UnimplementedError("the Indices output");
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(Shape spatial, SpatialDims(x, "input", true));
  NodeAttributes& a = ctx.attrs();
  if (!a.Has("kernel_shape")) return InvalidArgumentError("attribute 'kernel_shape' is required");
  ASSIGN_OR_RETURN(Window2d w, ReadWindow(ctx, {}, spatial, is_max, false));
  ASSIGN_OR_RETURN(int64_t ceil_mode, a.Int("ceil_mode", 0));
  Attrs attrs = WindowAttrs(w, is_max);
  attrs["pool_size"] = w.kernel;
  attrs["ceil_mode"] = ceil_mode;
  if (is_max) {
    ASSIGN_OR_RETURN(int64_t storage_order, a.Int("storage_order", 0));
    if (storage_order != 0) return UnimplementedError("storage_order=1");
  } else {
    ASSIGN_OR_RETURN(int64_t include_pad, a.Int("count_include_pad", 0));
    attrs["count_include_pad"] = include_pad;
  }
  if (spatial.size() == 3) {
    attrs["dilation"] = w.dilations;  // avg_pool3d takes it too (all ones for AveragePool)
    ASSIGN_OR_RETURN(Value y, ctx.Apply(is_max ? "max_pool3d" : "avg_pool3d", {x}, attrs));
    return ctx.SetOutput(0, y);
  }
  ASSIGN_OR_RETURN(Value x2, To2d(ctx, x));
  ASSIGN_OR_RETURN(Value y, ctx.Apply(is_max ? "max_pool2d" : "avg_pool2d", {x2}, attrs));
  ASSIGN_OR_RETURN(Value out, From2d(ctx, y, spatial.size()));
  return ctx.SetOutput(0, out);
}

Status ConvertGlobalPool(NodeContext& ctx, bool is_max) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  const int64_t rank = static_cast<int64_t>(x.info.shape.size());
  if (!is_max && rank == 5) {
    // A 3-D global average is a mean over the spatial axes, keeping them as 1.
    ASSIGN_OR_RETURN(Value y, ctx.Apply("reduce_mean", {x},
                                        {{"axes", Shape{2, 3, 4}}, {"keepdims", int64_t{1}}}));
    return ctx.SetOutput(0, y);
  }
  ASSIGN_OR_RETURN(Shape spatial, SpatialDims(x, "input", false));
  ASSIGN_OR_RETURN(Value x2, To2d(ctx, x));
  ASSIGN_OR_RETURN(Value y, ctx.Apply(is_max ? "global_max_pool2d" : "global_avg_pool2d", {x2}));
  ASSIGN_OR_RETURN(Value out, From2d(ctx, y, spatial.size()));
  return ctx.SetOutput(0, out);
}

}  // namespace

Status ConvertMaxPool(NodeContext& ctx) { return ConvertPool(ctx, true); }
Status ConvertAveragePool(NodeContext& ctx) { return ConvertPool(ctx, false); }
Status ConvertGlobalAveragePool(NodeContext& ctx) { return ConvertGlobalPool(ctx, false); }
Status ConvertGlobalMaxPool(NodeContext& ctx) { return ConvertGlobalPool(ctx, true); }

Status ConvertLayerNormalization(NodeContext& ctx) {
  NodeAttributes& a = ctx.attrs();
  ASSIGN_OR_RETURN(int64_t axis_attr, a.Int("axis", -1));
  ASSIGN_OR_RETURN(double epsilon, a.Float("epsilon", 1e-5));
  ASSIGN_OR_RETURN(int64_t stash_type, a.Int("stash_type", 1));
  if (stash_type != 1) return UnimplementedError("stash_type other than float32");
  std::vector<Value> inputs;
  for (size_t i = 0; i < 3; ++i) {
    if (i < 2 || ctx.Has(i)) {
      ASSIGN_OR_RETURN(Value v, ctx.In(i));
      inputs.push_back(v);
    }
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("layer_norm", inputs,
                                      {{"axis", axis_attr}, {"epsilon", epsilon}}));
  RETURN_IF_ERROR(ctx.SetOutput(0, y));
  if (!ctx.OutputUsed(1) && !ctx.OutputUsed(2)) return Status::Ok();
  // Mean and InvStdDev, with the normalised dimensions kept as 1.
  const Value& x = inputs[0];
  const int64_t rank = static_cast<int64_t>(x.info.shape.size());
  ASSIGN_OR_RETURN(int64_t axis, NormalizeOnnxAxis(axis_attr, rank));
  Shape axes;
  for (int64_t i = axis; i < rank; ++i) axes.push_back(i);
  const Attrs reduce = {{"axes", axes}, {"keepdims", int64_t{1}}};
  ASSIGN_OR_RETURN(Value mean, ctx.Apply("reduce_mean", {x}, reduce));
  ASSIGN_OR_RETURN(Value centred, ctx.Apply("sub", {x, mean}));
  ASSIGN_OR_RETURN(Value squared, ctx.Apply("mul", {centred, centred}));
  ASSIGN_OR_RETURN(Value variance, ctx.Apply("reduce_mean", {squared}, reduce));
  ASSIGN_OR_RETURN(Value eps, ScalarConstant(ctx, static_cast<float>(epsilon)));
  ASSIGN_OR_RETURN(Value shifted, ctx.Apply("add", {variance, eps}));
  ASSIGN_OR_RETURN(Value deviation, ctx.Apply("sqrt", {shifted}));
  ASSIGN_OR_RETURN(Value inverse, ctx.Apply("reciprocal", {deviation}));
  RETURN_IF_ERROR(ctx.SetOutput(1, mean));
  return ctx.SetOutput(2, inverse);
}

}  // namespace ferry::compiler::onnx_import
