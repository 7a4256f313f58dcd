// Converters of the shape, layout and data-movement operators. Shape arithmetic on constants
// (Shape, Gather, Concat, Unsqueeze, Cast ... chains) folds away in ImportContext::Apply.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "compiler/onnx/converters.h"
#include "compiler/onnx/tensor_proto.h"

namespace ferry::compiler::onnx_import {

using Shape = std::vector<int64_t>;

namespace {

StatusOr<Value> Int64Constant(NodeContext& ctx, const Shape& values) {
  ASSIGN_OR_RETURN(NDArray a, NDArray::Empty({static_cast<int64_t>(values.size())},
                                             DataType::Int64(), Device::Cpu()));
  if (!values.empty()) std::memcpy(a.data(), values.data(), values.size() * sizeof(int64_t));
  return ctx.Constant(std::move(a));
}

// The axes of a node: the attribute `axes` before `input_from_opset`, the constant input 1
// from then on; `fallback` when neither is given.
StatusOr<Shape> AxesOperand(NodeContext& ctx, int64_t input_from_opset, Shape fallback) {
  if (ctx.opset() < input_from_opset) return ctx.attrs().Ints("axes", std::move(fallback));
  if (!ctx.Has(1)) return fallback;
  return ctx.ConstInts(1);
}

}  // namespace

Status ConvertFlatten(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().Int("axis", 1));
  const int64_t rank = static_cast<int64_t>(x.info.shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return InvalidArgumentError("axis out of range");
  ASSIGN_OR_RETURN(Value y, ctx.Apply("flatten", {x}, {{"axis", axis}}));
  return ctx.SetOutput(0, y);
}

Status ConvertReshape(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(Shape shape, ctx.ConstInts(1));
  ASSIGN_OR_RETURN(int64_t allowzero, ctx.attrs().Int("allowzero", 0));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] != 0 || allowzero) continue;
    if (i >= x.info.shape.size()) return InvalidArgumentError("shape copies a missing dimension");
    shape[i] = x.info.shape[i];
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("reshape", {x}, {{"shape", shape}}));
  return ctx.SetOutput(0, y);
}

Status ConvertTranspose(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  Attrs attrs;
  if (ctx.attrs().Has("perm")) {
    ASSIGN_OR_RETURN(Shape perm, ctx.attrs().Ints("perm", {}));
    attrs["axes"] = perm;
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("transpose", {x}, attrs));
  return ctx.SetOutput(0, y);
}

Status ConvertConcat(NodeContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().Int("axis", 0));
  std::vector<Value> inputs;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    ASSIGN_OR_RETURN(Value v, ctx.In(i));
    inputs.push_back(v);
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("concat", inputs, {{"axis", axis}}));
  return ctx.SetOutput(0, y);
}

Status ConvertSplit(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs().Int("axis", 0));
  ASSIGN_OR_RETURN(int64_t axis, NormalizeOnnxAxis(axis_attr, x.info.shape.size()));
  Shape split;
  if (ctx.opset() < 13) {
    ASSIGN_OR_RETURN(split, ctx.attrs().Ints("split", {}));
  } else if (ctx.Has(1)) {
    ASSIGN_OR_RETURN(split, ctx.ConstInts(1));
  }
  const int64_t outputs = ctx.node().output_size();
  const int64_t dim = x.info.shape[axis];
  if (split.empty()) {
    if (outputs == 0 || dim % outputs != 0) {
      return InvalidArgumentError("dimension " + std::to_string(dim) +
                                  " does not split evenly into " + std::to_string(outputs));
    }
    split.assign(outputs, dim / outputs);
  }
  int64_t total = 0;
  for (int64_t s : split) total += s;
  if (static_cast<int64_t>(split.size()) != outputs || total != dim) {
    return InvalidArgumentError("split " + ShapeToString(split) + " does not cover dimension " +
                                std::to_string(dim) + " in " + std::to_string(outputs) + " parts");
  }
  int64_t offset = 0;
  for (int64_t i = 0; i < outputs; ++i) {
    ASSIGN_OR_RETURN(Value part, ctx.Apply("slice", {x},
                                           {{"starts", Shape{offset}},
                                            {"ends", Shape{offset + split[i]}},
                                            {"axes", Shape{axis}}}));
    RETURN_IF_ERROR(ctx.SetOutput(static_cast<size_t>(i), part));
    offset += split[i];
  }
  return Status::Ok();
}

Status ConvertSlice(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  Shape starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    ASSIGN_OR_RETURN(starts, ctx.attrs().Ints("starts", {}));
    ASSIGN_OR_RETURN(ends, ctx.attrs().Ints("ends", {}));
    ASSIGN_OR_RETURN(axes, ctx.attrs().Ints("axes", {}));
  } else {
    ASSIGN_OR_RETURN(starts, ctx.ConstInts(1));
    ASSIGN_OR_RETURN(ends, ctx.ConstInts(2));
    if (ctx.Has(3)) {
      ASSIGN_OR_RETURN(axes, ctx.ConstInts(3));
    }
    if (ctx.Has(4)) {
      ASSIGN_OR_RETURN(steps, ctx.ConstInts(4));
    }
  }
  Attrs attrs = {{"starts", starts}, {"ends", ends}};
  if (!axes.empty()) attrs["axes"] = axes;
  if (!steps.empty()) attrs["steps"] = steps;
  ASSIGN_OR_RETURN(Value y, ctx.Apply("slice", {x}, attrs));
  return ctx.SetOutput(0, y);
}

Status ConvertSqueeze(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(Shape axes, AxesOperand(ctx, 13, {}));
  const Shape& in = x.info.shape;
  std::vector<bool> drop(in.size(), false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int64_t axis, NormalizeOnnxAxis(a, in.size()));
    if (in[axis] != 1) {
      return InvalidArgumentError("cannot squeeze dimension " + std::to_string(a) + " of " +
                                  x.info.ToString());
    }
    drop[axis] = true;
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!(axes.empty() ? in[i] == 1 : drop[i])) out.push_back(in[i]);
  }
  ASSIGN_OR_RETURN(Value y, ReshapeTo(ctx, x, out));
  return ctx.SetOutput(0, y);
}

Status ConvertUnsqueeze(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(Shape axes, AxesOperand(ctx, 13, {}));
  if (axes.empty()) return InvalidArgumentError("axes are required");
  const int64_t rank = static_cast<int64_t>(x.info.shape.size() + axes.size());
  std::vector<bool> inserted(rank, false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int64_t axis, NormalizeOnnxAxis(a, rank));
    if (inserted[axis]) return InvalidArgumentError("axis " + std::to_string(a) + " repeats");
    inserted[axis] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : x.info.shape[next++]);
  ASSIGN_OR_RETURN(Value y, ReshapeTo(ctx, x, out));
  return ctx.SetOutput(0, y);
}

Status ConvertGather(NodeContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().Int("axis", 0));
  ASSIGN_OR_RETURN(Value data, ctx.In(0));
  ASSIGN_OR_RETURN(Value indices, ctx.In(1));
  ASSIGN_OR_RETURN(Value y, ctx.Apply("gather", {data, indices}, {{"axis", axis}}));
  return ctx.SetOutput(0, y);
}

Status ConvertShape(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  const int64_t rank = static_cast<int64_t>(x.info.shape.size());
  ASSIGN_OR_RETURN(int64_t start, ctx.attrs().Int("start", 0));
  ASSIGN_OR_RETURN(int64_t end, ctx.attrs().Int("end", rank));
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  ASSIGN_OR_RETURN(Value y, Int64Constant(ctx, Shape(x.info.shape.begin() + start,
                                                     x.info.shape.begin() + end)));
  return ctx.SetOutput(0, y);
}

Status ConvertConstant(NodeContext& ctx) {
  NodeAttributes& a = ctx.attrs();
  NDArray value;
  if (a.Has("value")) {
    ASSIGN_OR_RETURN(value, a.Tensor("value"));
  } else if (a.Has("value_float") || a.Has("value_floats")) {
    const bool scalar = a.Has("value_float");
    ASSIGN_OR_RETURN(double one, a.Float("value_float", 0.0));
    ASSIGN_OR_RETURN(std::vector<double> many, a.Floats("value_floats", {one}));
    ASSIGN_OR_RETURN(value, NDArray::Empty(scalar ? Shape{} : Shape{static_cast<int64_t>(many.size())},
                                           DataType::Float32(), Device::Cpu()));
    for (size_t i = 0; i < many.size(); ++i) value.data_as<float>()[i] = static_cast<float>(many[i]);
  } else if (a.Has("value_int") || a.Has("value_ints")) {
    const bool scalar = a.Has("value_int");
    ASSIGN_OR_RETURN(int64_t one, a.Int("value_int", 0));
    ASSIGN_OR_RETURN(Shape many, a.Ints("value_ints", {one}));
    ASSIGN_OR_RETURN(value, NDArray::Empty(scalar ? Shape{} : Shape{static_cast<int64_t>(many.size())},
                                           DataType::Int64(), Device::Cpu()));
    if (!many.empty()) std::memcpy(value.data(), many.data(), many.size() * sizeof(int64_t));
  } else {
    return UnimplementedError("a Constant without value, value_float(s) or value_int(s)");
  }
  ASSIGN_OR_RETURN(Value y, ctx.Constant(std::move(value)));
  return ctx.SetOutput(0, y);
}

Status ConvertConstantOfShape(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Shape shape, ctx.ConstInts(0));
  NDArray fill;
  if (ctx.attrs().Has("value")) {
    ASSIGN_OR_RETURN(fill, ctx.attrs().Tensor("value"));
    if (fill.NumElements() != 1) return InvalidArgumentError("value must hold one element");
  } else {
    ASSIGN_OR_RETURN(fill, NDArray::Empty({1}, DataType::Float32(), Device::Cpu()));
    *fill.data_as<float>() = 0.0f;
  }
  ASSIGN_OR_RETURN(NDArray out, NDArray::Empty(shape, fill.dtype(), Device::Cpu()));
  const size_t bytes = fill.dtype().bytes();
  for (int64_t i = 0; i < out.NumElements(); ++i) {
    std::memcpy(static_cast<char*>(out.data()) + i * bytes, fill.data(), bytes);
  }
  ASSIGN_OR_RETURN(Value y, ctx.Constant(std::move(out)));
  return ctx.SetOutput(0, y);
}

Status ConvertIdentity(NodeContext& ctx) {
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  return ctx.SetOutput(0, x);
}

Status ConvertDropout(NodeContext& ctx) {
  ctx.attrs().Ignore("seed");
  ctx.attrs().Ignore("ratio");  // inference: Dropout is the identity whatever the ratio
  ASSIGN_OR_RETURN(int64_t is_test, ctx.attrs().Int("is_test", 1));
  if (is_test == 0) return UnimplementedError("is_test=0 (training)");
  if (ctx.Has(2)) {
    ASSIGN_OR_RETURN(NDArray training, ctx.Const(2));
    if (training.NumElements() != 1 || *static_cast<const uint8_t*>(training.data()) != 0) {
      return UnimplementedError("training_mode=true");
    }
  }
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  RETURN_IF_ERROR(ctx.SetOutput(0, x));
  if (!ctx.OutputUsed(1)) return Status::Ok();
  // In inference every element is kept: the mask is all true.
  if (ctx.opset() < 7) return UnimplementedError("the mask output of opsets < 7");
  ASSIGN_OR_RETURN(NDArray mask, NDArray::Empty(x.info.shape, DataType::Bool(), Device::Cpu()));
  std::memset(mask.data(), 1, mask.NumBytes());
  ASSIGN_OR_RETURN(Value mask_value, ctx.Constant(std::move(mask)));
  return ctx.SetOutput(1, mask_value);
}

Status ConvertCast(NodeContext& ctx) {
  ASSIGN_OR_RETURN(int64_t to, ctx.attrs().Int("to", 0));
  ASSIGN_OR_RETURN(DataType dtype, DataTypeFromOnnx(static_cast<int32_t>(to)));
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(Value y, ctx.Apply("cast", {x},
                                      {{"code", int64_t{dtype.code}}, {"bits", int64_t{dtype.bits}}}));
  return ctx.SetOutput(0, y);
}

Status ConvertPad(NodeContext& ctx) {
  ASSIGN_OR_RETURN(std::string mode_name, ctx.attrs().String("mode", "constant"));
  int64_t mode;
  if (mode_name == "constant") {
    mode = 0;
  } else if (mode_name == "reflect") {
    mode = 1;
  } else if (mode_name == "edge") {
    mode = 2;
  } else {
    return UnimplementedError("mode '" + mode_name + "'");
  }
  Shape pads;
  double value = 0.0;
  if (ctx.opset() < 11) {
    ASSIGN_OR_RETURN(pads, ctx.attrs().Ints("pads", {}));
    ASSIGN_OR_RETURN(value, ctx.attrs().Float("value", 0.0));
  } else {
    ASSIGN_OR_RETURN(pads, ctx.ConstInts(1));
    if (ctx.Has(2)) {
      ASSIGN_OR_RETURN(std::vector<double> v, ctx.ConstFloats(2));
      if (v.size() != 1) return InvalidArgumentError("constant_value must be a scalar");
      value = v[0];
    }
  }
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  ASSIGN_OR_RETURN(Value y, ctx.Apply("pad", {x}, {{"pads", pads}, {"mode", mode}, {"value", value}}));
  return ctx.SetOutput(0, y);
}

Status ConvertResize(NodeContext& ctx) {
  NodeAttributes& a = ctx.attrs();
  ASSIGN_OR_RETURN(std::string mode, a.String("mode", "nearest"));
  if (mode != "nearest" && mode != "linear" && mode != "cubic") {
    return UnimplementedError("mode '" + mode + "'");
  }
  const bool linear = mode != "nearest";  // linear or cubic interpolation
  ASSIGN_OR_RETURN(Value x, ctx.In(0));
  const Shape& in = x.info.shape;
  std::string coordinate = "asymmetric", nearest = "floor";
  std::vector<double> scales;
  Shape sizes;
  if (ctx.opset() < 11) {
    ASSIGN_OR_RETURN(scales, ctx.ConstFloats(1));
  } else {
    ASSIGN_OR_RETURN(coordinate, a.String("coordinate_transformation_mode", "half_pixel"));
    ASSIGN_OR_RETURN(nearest, a.String("nearest_mode", "round_prefer_floor"));
    // Only tf_crop_and_resize (not supported) reads it.
    a.Ignore("extrapolation_value");
    if (ctx.Has(2)) {
      ASSIGN_OR_RETURN(scales, ctx.ConstFloats(2));
    }
    if (ctx.Has(3)) {
      ASSIGN_OR_RETURN(sizes, ctx.ConstInts(3));
    }
  }
  static constexpr const char* kCoordinateModes[] = {"half_pixel", "asymmetric",
                                                     "pytorch_half_pixel", "align_corners",
                                                     "tf_half_pixel_for_nn"};
  static constexpr const char* kNearestModes[] = {"round_prefer_floor", "round_prefer_ceil",
                                                  "floor", "ceil"};
  const auto* c = std::find(std::begin(kCoordinateModes), std::end(kCoordinateModes), coordinate);
  const auto* n = std::find(std::begin(kNearestModes), std::end(kNearestModes), nearest);
  if (c == std::end(kCoordinateModes)) {
    return UnimplementedError("coordinate_transformation_mode '" + coordinate + "'");
  }
  if (n == std::end(kNearestModes)) return UnimplementedError("nearest_mode '" + nearest + "'");
  if (!sizes.empty()) {
    if (sizes.size() != in.size()) return InvalidArgumentError("sizes must match the input rank");
    scales.clear();
    for (size_t i = 0; i < in.size(); ++i) {
      scales.push_back(in[i] == 0 ? 1.0 : static_cast<double>(sizes[i]) / static_cast<double>(in[i]));
    }
  } else {
    if (scales.size() != in.size()) {
      return InvalidArgumentError("scales or sizes must give one value per input dimension");
    }
    for (size_t i = 0; i < in.size(); ++i) {
      sizes.push_back(static_cast<int64_t>(std::floor(static_cast<double>(in[i]) * scales[i])));
    }
  }
  if (linear && c == std::begin(kCoordinateModes) + 4) {
    return UnimplementedError(mode + " resize with coordinate_transformation_mode '" + coordinate +
                              "'");
  }
  Attrs attrs = {{"sizes", sizes},
                 {"scales", scales},
                 {"coordinate_mode", int64_t{c - std::begin(kCoordinateModes)}}};
  if (!linear) attrs["nearest_mode"] = int64_t{n - std::begin(kNearestModes)};
  if (mode == "cubic") {
    ASSIGN_OR_RETURN(double coeff, a.Float("cubic_coeff_a", -0.75));
    ASSIGN_OR_RETURN(int64_t exclude_outside, a.Int("exclude_outside", 0));
    attrs["cubic_coeff_a"] = coeff;
    attrs["exclude_outside"] = exclude_outside;
  } else {
    // They only change cubic interpolation.
    a.Ignore("cubic_coeff_a");
    a.Ignore("exclude_outside");
  }
  ASSIGN_OR_RETURN(Value y, ctx.Apply("resize_" + mode, {x}, attrs));
  return ctx.SetOutput(0, y);
}

}  // namespace ferry::compiler::onnx_import
