// Lowerings of the layout and data-movement operators: concat, reshape, flatten, copy,
// transpose, slice, pad, gather, cast, resize_nearest and resize_linear.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "compiler/lowering_util.h"
#include "compiler/lowerings.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/ndarray.h"

namespace ferry::compiler::lowering {

StatusOr<OpLowering> LowerConcat(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axis"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1024));
  ASSIGN_OR_RETURN(int64_t axis_attr, GetIntAttr(attrs, "axis", 0));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, in[0].shape.size()));
  Shape out = in[0].shape;
  for (size_t i = 1; i < in.size(); ++i) {
    Shape a = in[0].shape, b = in[i].shape;
    if (b.size() == a.size()) {
      a[axis] = b[axis] = 0;
    }
    if (a != b || !(in[i].dtype == in[0].dtype)) {
      return InvalidArgumentError("input " + std::to_string(i) + " " + in[i].ToString() +
                                  " does not match input 0 " + in[0].ToString() +
                                  " outside axis " + std::to_string(axis));
    }
    out[axis] += in[i].shape[axis];
  }
  return WithAttrs(TensorInfo{out, in[0].dtype}, "Concat", "ConcatAttrs",
                   ".axis = " + std::to_string(axis), kernels::ConcatAttrs{axis}, &kernels::Concat);
}

namespace {

StatusOr<OpLowering> Reshaped(const TensorInfo& in, Shape out) {
  ASSIGN_OR_RETURN(int64_t in_count, ShapeNumElements(in.shape));
  ASSIGN_OR_RETURN(int64_t out_count, ShapeNumElements(out));
  if (in_count != out_count) {
    return InvalidArgumentError("cannot reshape " + in.ToString() + " to " + ShapeToString(out));
  }
  return Plain(TensorInfo{std::move(out), in.dtype}, "Reshape", &kernels::Reshape);
}

}  // namespace

StatusOr<OpLowering> LowerReshape(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"shape"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  ASSIGN_OR_RETURN(Shape shape, GetIntListAttr(attrs, "shape", {}));
  if (attrs.find("shape") == attrs.end()) return InvalidArgumentError("attribute 'shape' is required");
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) return InvalidArgumentError("shape has more than one -1");
      inferred = static_cast<int>(i);
    } else if (shape[i] < 0) {
      return InvalidArgumentError("shape " + ShapeToString(shape) + " has a negative dimension");
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    ASSIGN_OR_RETURN(int64_t count, ShapeNumElements(in[0].shape));
    if (known == 0 || count % known != 0) {
      return InvalidArgumentError("cannot reshape " + in[0].ToString() + " to " +
                                  ShapeToString(shape));
    }
    shape[inferred] = count / known;
  }
  return Reshaped(in[0], std::move(shape));
}

StatusOr<OpLowering> LowerFlatten(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axis"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  ASSIGN_OR_RETURN(int64_t axis, GetIntAttr(attrs, "axis", 1));
  const Shape& s = in[0].shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return InvalidArgumentError("axis out of range");
  auto product = [&](int64_t begin, int64_t end) {
    return std::accumulate(s.begin() + begin, s.begin() + end, int64_t{1}, std::multiplies<>());
  };
  return Reshaped(in[0], {product(0, axis), product(axis, rank)});
}

StatusOr<OpLowering> LowerTranspose(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axes"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  const size_t rank = in[0].shape.size();
  Shape reversed(rank);
  for (size_t i = 0; i < rank; ++i) reversed[i] = static_cast<int64_t>(rank - 1 - i);
  ASSIGN_OR_RETURN(Shape axes, GetIntListAttr(attrs, "axes", reversed));
  Shape sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < std::max(sorted.size(), rank); ++i) {
    if (sorted.size() != rank || sorted[i] != static_cast<int64_t>(i)) {
      return InvalidArgumentError("axes " + ShapeToString(axes) +
                                  " is not a permutation of the input's " +
                                  std::to_string(rank) + " axes");
    }
  }
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) out[i] = in[0].shape[axes[i]];
  kernels::TransposeAttrs k;
  k.ndim = static_cast<int64_t>(rank);
  CopyDims(axes, k.axes);
  return WithAttrs(TensorInfo{out, in[0].dtype}, "Transpose", "TransposeAttrs",
                   ".ndim = " + std::to_string(rank) + ", .axes = {" + Join(axes) + "}", k,
                   &kernels::Transpose);
}


StatusOr<OpLowering> LowerCopy(Inputs in, const Attrs& attrs) {
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  return Reshaped(in[0], in[0].shape);
}

StatusOr<OpLowering> LowerSlice(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"starts", "ends", "axes", "steps"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  const Shape& shape = in[0].shape;
  const size_t rank = shape.size();
  ASSIGN_OR_RETURN(Shape starts, GetIntListAttr(attrs, "starts", {}));
  ASSIGN_OR_RETURN(Shape ends, GetIntListAttr(attrs, "ends", {}));
  Shape all(starts.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  ASSIGN_OR_RETURN(Shape axes, GetIntListAttr(attrs, "axes", all));
  ASSIGN_OR_RETURN(Shape steps, GetIntListAttr(attrs, "steps", Shape(starts.size(), 1)));
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return InvalidArgumentError("starts, ends, axes and steps must have the same length");
  }
  kernels::SliceAttrs k;
  k.ndim = static_cast<int64_t>(rank);
  Shape out = shape;
  for (size_t i = 0; i < rank; ++i) k.steps[i] = 1;
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(axes[i], rank));
    if (seen[axis]) return InvalidArgumentError("axis " + std::to_string(axes[i]) + " repeats");
    seen[axis] = true;
    const int64_t dim = shape[axis], step = steps[i];
    if (step == 0) return InvalidArgumentError("steps must be non-zero");
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      out[axis] = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      out[axis] = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    k.starts[axis] = out[axis] > 0 ? start : 0;
    k.steps[axis] = step;
  }
  return WithAttrs(TensorInfo{out, in[0].dtype}, "Slice", "SliceAttrs",
                   ".ndim = " + std::to_string(rank) + ", .starts = {" +
                       Join(std::span<const int64_t>(k.starts, rank)) + "}, .steps = {" +
                       Join(std::span<const int64_t>(k.steps, rank)) + "}",
                   k, &kernels::Slice);
}

StatusOr<OpLowering> LowerPad(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"pads", "mode", "value"};
  static constexpr const char* kModes[] = {"kConstant", "kReflect", "kEdge"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  const size_t rank = in[0].shape.size();
  ASSIGN_OR_RETURN(Shape pads, GetIntListAttr(attrs, "pads", Shape(2 * rank, 0)));
  ASSIGN_OR_RETURN(int64_t mode, GetIntAttr(attrs, "mode", 0));
  ASSIGN_OR_RETURN(double value, GetFloatAttr(attrs, "value", 0.0));
  if (pads.size() != 2 * rank) {
    return InvalidArgumentError("pads must hold " + std::to_string(2 * rank) + " values");
  }
  if (mode < 0 || mode > 2) return InvalidArgumentError("mode must be 0, 1 or 2");
  kernels::PadAttrs k;
  k.ndim = static_cast<int64_t>(rank);
  k.mode = static_cast<kernels::PadMode>(mode);
  k.value = value;
  Shape out = in[0].shape;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t limit = kernels::internal::kMaxAttrValue;
    if (std::abs(pads[i]) > limit || std::abs(pads[i + rank]) > limit) {
      return InvalidArgumentError("pads must be within 2^30");
    }
    k.before[i] = pads[i];
    out[i] += pads[i] + pads[i + rank];
    if (out[i] < 0) return InvalidArgumentError("pads crop more than the input holds");
    if (mode == 1 && (pads[i] >= in[0].shape[i] || pads[i + rank] >= in[0].shape[i]) &&
        (pads[i] > 0 || pads[i + rank] > 0)) {
      return InvalidArgumentError("reflect padding must be smaller than the dimension");
    }
    if (mode == 2 && in[0].shape[i] == 0 && (pads[i] > 0 || pads[i + rank] > 0)) {
      return InvalidArgumentError("edge padding of an empty dimension");
    }
  }
  return WithAttrs(TensorInfo{out, in[0].dtype}, "Pad", "PadAttrs",
                   ".ndim = " + std::to_string(rank) + ", .before = {" +
                       Join(std::span<const int64_t>(k.before, rank)) +
                       "}, .mode = ferry::kernels::PadMode::" + kModes[mode] +
                       ", .value = " + FloatLiteral(value),
                   k, &kernels::Pad);
}

StatusOr<OpLowering> LowerGather(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axis"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
  if (!(in[1].dtype == DataType::Int64()) && !(in[1].dtype == DataType::Int32())) {
    return InvalidArgumentError("indices must be int32 or int64, got " + in[1].ToString());
  }
  ASSIGN_OR_RETURN(int64_t axis_attr, GetIntAttr(attrs, "axis", 0));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, in[0].shape.size()));
  Shape out(in[0].shape.begin(), in[0].shape.begin() + axis);
  out.insert(out.end(), in[1].shape.begin(), in[1].shape.end());
  out.insert(out.end(), in[0].shape.begin() + axis + 1, in[0].shape.end());
  if (out.size() > static_cast<size_t>(kernels::kMaxDims)) {
    return UnimplementedError("the output would have more than 8 dimensions");
  }
  return WithAttrs(TensorInfo{out, in[0].dtype}, "Gather", "GatherAttrs",
                   ".axis = " + std::to_string(axis), kernels::GatherAttrs{axis},
                   &kernels::Gather);
}

StatusOr<OpLowering> LowerCast(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"code", "bits"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  ASSIGN_OR_RETURN(int64_t code, GetIntAttr(attrs, "code", -1));
  ASSIGN_OR_RETURN(int64_t bits, GetIntAttr(attrs, "bits", -1));
  const DataType to{static_cast<uint8_t>(code), static_cast<uint8_t>(bits), 1};
  const DataType kSupported[] = {
      DataType::Float32(), DataType::Float64(), DataType::Int8(),  {kDLInt, 16, 1},
      DataType::Int32(),   DataType::Int64(),   DataType::UInt8(), {kDLUInt, 16, 1},
      {kDLUInt, 32, 1},    {kDLUInt, 64, 1},    DataType::Bool()};
  auto supported = [&](const DataType& t) {
    return std::find(std::begin(kSupported), std::end(kSupported), t) != std::end(kSupported);
  };
  if (!supported(to) || !supported(in[0].dtype)) {
    return UnimplementedError("cast from " + in[0].dtype.ToString() + " to " + to.ToString() +
                              " is not supported");
  }
  return Plain(TensorInfo{in[0].shape, to}, "Cast", &kernels::Cast);
}

StatusOr<OpLowering> LowerResize(Inputs in, const Attrs& attrs, ResizeKind kind) {
  static constexpr std::string_view kNearestKnown[] = {"sizes", "scales", "coordinate_mode",
                                                       "nearest_mode"};
  static constexpr std::string_view kLinearKnown[] = {"sizes", "scales", "coordinate_mode"};
  static constexpr std::string_view kCubicKnown[] = {"sizes", "scales", "coordinate_mode",
                                                     "cubic_coeff_a", "exclude_outside"};
  const bool linear = kind != ResizeKind::kNearest;
  static constexpr const char* kCoordinateModes[] = {"kHalfPixel", "kAsymmetric",
                                                     "kPytorchHalfPixel", "kAlignCorners",
                                                     "kTfHalfPixelForNn"};
  static constexpr const char* kNearestModes[] = {"kRoundPreferFloor", "kRoundPreferCeil",
                                                  "kFloor", "kCeil"};
  RETURN_IF_ERROR(kind == ResizeKind::kNearest  ? CheckKnownAttrs(attrs, kNearestKnown)
                  : kind == ResizeKind::kLinear ? CheckKnownAttrs(attrs, kLinearKnown)
                                                : CheckKnownAttrs(attrs, kCubicKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  const size_t rank = in[0].shape.size();
  ASSIGN_OR_RETURN(Shape sizes, GetIntListAttr(attrs, "sizes", {}));
  ASSIGN_OR_RETURN(std::vector<double> scales, GetFloatListAttr(attrs, "scales", {}));
  ASSIGN_OR_RETURN(int64_t coordinate_mode, GetIntAttr(attrs, "coordinate_mode", 0));
  ASSIGN_OR_RETURN(int64_t nearest_mode, GetIntAttr(attrs, "nearest_mode", 0));
  if (sizes.size() != rank || scales.size() != rank) {
    return InvalidArgumentError("sizes and scales must hold one value per input dimension");
  }
  if (coordinate_mode < 0 || coordinate_mode > (linear ? 3 : 4) || nearest_mode < 0 ||
      nearest_mode > 3) {
    return InvalidArgumentError("coordinate_mode or nearest_mode is out of range");
  }
  for (size_t i = 0; i < rank; ++i) {
    if (sizes[i] < 0 || !(scales[i] > 0) || std::isinf(scales[i])) {
      return InvalidArgumentError("sizes must be non-negative and scales positive");
    }
  }
  std::string init = ".ndim = " + std::to_string(rank) + ", .scales = {" + JoinFloats(scales) +
                     "}, .coordinate_mode = ferry::kernels::ResizeCoordinateMode::" +
                     kCoordinateModes[coordinate_mode];
  const auto coordinate = static_cast<kernels::ResizeCoordinateMode>(coordinate_mode);
  if (kind == ResizeKind::kCubic) {
    kernels::ResizeCubicAttrs k;
    k.ndim = static_cast<int64_t>(rank);
    for (size_t i = 0; i < rank; ++i) k.scales[i] = scales[i];
    k.coordinate_mode = coordinate;
    ASSIGN_OR_RETURN(k.cubic_coeff_a, GetFloatAttr(attrs, "cubic_coeff_a", -0.75));
    ASSIGN_OR_RETURN(int64_t exclude_outside, GetIntAttr(attrs, "exclude_outside", 0));
    k.exclude_outside = exclude_outside != 0;
    if (!std::isfinite(k.cubic_coeff_a)) return InvalidArgumentError("cubic_coeff_a must be finite");
    init += ", .cubic_coeff_a = " + FloatLiteral(k.cubic_coeff_a) +
            ", .exclude_outside = " + Bool(k.exclude_outside);
    return WithAttrs(TensorInfo{sizes, in[0].dtype}, "ResizeCubic", "ResizeCubicAttrs", init, k,
                     &kernels::ResizeCubic);
  }
  if (linear) {
    kernels::ResizeLinearAttrs k;
    k.ndim = static_cast<int64_t>(rank);
    for (size_t i = 0; i < rank; ++i) k.scales[i] = scales[i];
    k.coordinate_mode = coordinate;
    return WithAttrs(TensorInfo{sizes, in[0].dtype}, "ResizeLinear", "ResizeLinearAttrs", init, k,
                     &kernels::ResizeLinear);
  }
  kernels::ResizeNearestAttrs k;
  k.ndim = static_cast<int64_t>(rank);
  for (size_t i = 0; i < rank; ++i) k.scales[i] = scales[i];
  k.coordinate_mode = coordinate;
  k.nearest_mode = static_cast<kernels::ResizeNearestMode>(nearest_mode);
  init += std::string(", .nearest_mode = ferry::kernels::ResizeNearestMode::") +
          kNearestModes[nearest_mode];
  return WithAttrs(TensorInfo{sizes, in[0].dtype}, "ResizeNearest", "ResizeNearestAttrs", init, k,
                   &kernels::ResizeNearest);
}

}  // namespace ferry::compiler::lowering
