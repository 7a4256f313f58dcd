// Lowerings of the neural-network operators: dense, matmul, conv2d (with fused epilogues),
// conv2d_transpose, pools, bias_add, batch_norm, layer_norm.
#include "compiler/lowering_util.h"
#include "compiler/lowerings.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/ndarray.h"

namespace ferry::compiler::lowering {
namespace {

constexpr std::string_view kEpilogueAttrs[] = {"bias",       "batch_norm", "epsilon",
                                               "activation", "clip_min",   "clip_max"};

// The epilogue attributes and the count of inputs they take after the weight.
StatusOr<kernels::Epilogue> GetEpilogue(Inputs in, const Attrs& attrs) {
  kernels::Epilogue e;
  ASSIGN_OR_RETURN(int64_t bias, GetIntAttr(attrs, "bias", in.size() == 3 ? 1 : 0));
  ASSIGN_OR_RETURN(int64_t batch_norm, GetIntAttr(attrs, "batch_norm", 0));
  ASSIGN_OR_RETURN(e.epsilon, GetFloatAttr(attrs, "epsilon", 1e-5));
  ASSIGN_OR_RETURN(int64_t activation, GetIntAttr(attrs, "activation", 0));
  ASSIGN_OR_RETURN(e.clip_min, GetFloatAttr(attrs, "clip_min", 0.0));
  ASSIGN_OR_RETURN(e.clip_max, GetFloatAttr(attrs, "clip_max", 6.0));
  if (activation < 0 || activation > 2) {
    return InvalidArgumentError("activation must be 0 (none), 1 (relu) or 2 (clip)");
  }
  e.bias = bias != 0;
  e.batch_norm = batch_norm != 0;
  e.activation = static_cast<kernels::Activation>(activation);
  if (!(e.epsilon >= 0)) return InvalidArgumentError("epsilon must be non-negative");
  if (!(e.clip_min <= e.clip_max)) return InvalidArgumentError("clip_min must not exceed clip_max");
  const size_t expected = 2 + (e.bias ? 1 : 0) + (e.batch_norm ? 4 : 0);
  if (in.size() != expected) {
    return InvalidArgumentError("takes " + std::to_string(expected) +
                                " inputs with this epilogue, got " + std::to_string(in.size()));
  }
  return e;
}

Status CheckChannelVectors(Inputs in, size_t first, int64_t channels) {
  for (size_t i = first; i < in.size(); ++i) {
    if (in[i].shape != Shape{channels}) {
      return InvalidArgumentError("input " + std::to_string(i) + " must be [" +
                                  std::to_string(channels) + "], got " + in[i].ToString());
    }
  }
  return Status::Ok();
}

std::string EpilogueInitializer(const kernels::Epilogue& e) {
  static constexpr const char* kActivations[] = {"kNone", "kRelu", "kClip"};
  return ".epilogue = {.bias = " + Bool(e.bias) + ", .batch_norm = " + Bool(e.batch_norm) +
         ", .epsilon = " + FloatLiteral(e.epsilon) +
         ", .activation = ferry::kernels::Activation::" +
         kActivations[static_cast<int>(e.activation)] + ", .clip_min = " +
         FloatLiteral(e.clip_min) + ", .clip_max = " + FloatLiteral(e.clip_max) + "}";
}

bool IsPlainEpilogue(const kernels::Epilogue& e) {
  return !e.bias && !e.batch_norm && e.activation == kernels::Activation::kNone;
}

}  // namespace

StatusOr<OpLowering> LowerDense(Inputs in, const Attrs& attrs) {
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kEpilogueAttrs));
  RETURN_IF_ERROR(CheckArity(in, 2, 7));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(kernels::Epilogue epilogue, GetEpilogue(in, attrs));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 2));
  RETURN_IF_ERROR(CheckRank(in[1], "weight", 2));
  if (in[0].shape[1] != in[1].shape[1]) {
    return InvalidArgumentError("data " + in[0].ToString() + " and weight " + in[1].ToString() +
                                " disagree on K");
  }
  RETURN_IF_ERROR(CheckChannelVectors(in, 2, in[1].shape[0]));
  TensorInfo out{{in[0].shape[0], in[1].shape[0]}, DataType::Float32()};
  if (IsPlainEpilogue(epilogue)) return Plain(std::move(out), "Dense", &kernels::Dense);
  return WithAttrs(std::move(out), "FusedDense", "DenseAttrs", EpilogueInitializer(epilogue),
                   kernels::DenseAttrs{epilogue}, &kernels::FusedDense);
}

StatusOr<OpLowering> LowerMatmul(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"transpose_a", "transpose_b", "bias",
                                                "batch_norm",  "epsilon",     "activation",
                                                "clip_min",    "clip_max"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 7));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t ta, GetIntAttr(attrs, "transpose_a", 0));
  ASSIGN_OR_RETURN(int64_t tb, GetIntAttr(attrs, "transpose_b", 0));
  const Shape& a = in[0].shape;
  const Shape& b = in[1].shape;
  if (a.size() < 2 || b.size() < 2) return InvalidArgumentError("operands must have rank >= 2");
  const int64_t m = ta ? a[a.size() - 1] : a[a.size() - 2];
  const int64_t ka = ta ? a[a.size() - 2] : a[a.size() - 1];
  const int64_t kb = tb ? b[b.size() - 1] : b[b.size() - 2];
  const int64_t n = tb ? b[b.size() - 2] : b[b.size() - 1];
  if (ka != kb) {
    return InvalidArgumentError("a " + in[0].ToString() + " and b " + in[1].ToString() +
                                " disagree on K");
  }
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(Shape(a.begin(), a.end() - 2),
                                              Shape(b.begin(), b.end() - 2)));
  out.push_back(m);
  out.push_back(n);
  ASSIGN_OR_RETURN(kernels::Epilogue epilogue, GetEpilogue(in, attrs));
  RETURN_IF_ERROR(CheckChannelVectors(in, 2, n));
  const kernels::MatmulAttrs kernel_attrs{ta != 0, tb != 0, epilogue};
  std::string initializer = ".transpose_a = " + Bool(ta) + ", .transpose_b = " + Bool(tb);
  if (!IsPlainEpilogue(epilogue)) initializer += ", " + EpilogueInitializer(epilogue);
  return WithAttrs(TensorInfo{out, DataType::Float32()}, "Matmul", "MatmulAttrs", initializer,
                   kernel_attrs, &kernels::Matmul);
}

StatusOr<OpLowering> LowerConv2d(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {
      "strides", "padding",  "dilation", "groups",   "bias",
      "batch_norm", "epsilon", "activation", "clip_min", "clip_max"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 7));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(kernels::Epilogue epilogue, GetEpilogue(in, attrs));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 4));
  RETURN_IF_ERROR(CheckRank(in[1], "weight", 4));
  ASSIGN_OR_RETURN(Window w, GetWindow(attrs));
  ASSIGN_OR_RETURN(int64_t groups, GetIntAttr(attrs, "groups", 1));
  const Shape& data = in[0].shape;
  const Shape& weight = in[1].shape;
  if (groups < 1 || data[1] % groups != 0 || weight[0] % groups != 0 ||
      weight[1] * groups != data[1]) {
    return InvalidArgumentError("weight " + in[1].ToString() + " does not match data " +
                                in[0].ToString() + " with groups " + std::to_string(groups));
  }
  RETURN_IF_ERROR(CheckChannelVectors(in, 2, weight[0]));
  ASSIGN_OR_RETURN(Shape out, WindowOutput(in[0], weight[0], w, {&weight[2], 2}, false));
  kernels::Conv2dAttrs k;
  CopyDims(w.strides, k.strides);
  CopyDims(w.padding, k.padding);
  CopyDims(w.dilation, k.dilation);
  k.groups = groups;
  k.epilogue = epilogue;
  std::string init = WindowInitializer(w) + ", .groups = " + std::to_string(groups);
  if (!IsPlainEpilogue(epilogue)) init += ", " + EpilogueInitializer(epilogue);
  return WithAttrs(TensorInfo{out, DataType::Float32()}, "Conv2d", "Conv2dAttrs", init, k,
                   &kernels::Conv2d);
}

StatusOr<OpLowering> LowerConv2dTranspose(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"strides", "padding", "dilation",
                                                "output_padding", "groups"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
  RETURN_IF_ERROR(CheckFloat32(in));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 4));
  RETURN_IF_ERROR(CheckRank(in[1], "weight", 4));
  ASSIGN_OR_RETURN(Window w, GetWindow(attrs));
  ASSIGN_OR_RETURN(int64_t groups, GetIntAttr(attrs, "groups", 1));
  ASSIGN_OR_RETURN(std::vector<int64_t> output_padding,
                   GetIntsAttr(attrs, "output_padding", 2, {0, 0}));
  const Shape& data = in[0].shape;
  const Shape& weight = in[1].shape;
  if (groups < 1 || data[1] % groups != 0 || weight[0] != data[1]) {
    return InvalidArgumentError("weight " + in[1].ToString() + " does not match data " +
                                in[0].ToString() + " with groups " + std::to_string(groups));
  }
  Shape out = {data[0], weight[1] * groups, 0, 0};
  for (int axis = 0; axis < 2; ++axis) {
    if (output_padding[axis] < 0 || output_padding[axis] > kernels::internal::kMaxAttrValue) {
      return InvalidArgumentError("output_padding must be in [0, 2^30]");
    }
    out[2 + axis] = (data[2 + axis] - 1) * w.strides[axis] - w.padding[axis] -
                    w.padding[axis + 2] + w.dilation[axis] * (weight[2 + axis] - 1) +
                    output_padding[axis] + 1;
    if (out[2 + axis] < 0) {
      return InvalidArgumentError("padding leaves a negative output size for " + in[0].ToString());
    }
  }
  kernels::Conv2dTransposeAttrs k;
  CopyDims(w.strides, k.strides);
  CopyDims(w.padding, k.padding);
  CopyDims(w.dilation, k.dilation);
  CopyDims(output_padding, k.output_padding);
  k.groups = groups;
  return WithAttrs(TensorInfo{out, DataType::Float32()}, "Conv2dTranspose",
                   "Conv2dTransposeAttrs",
                   WindowInitializer(w) + ", .output_padding = {" + Join(output_padding) +
                       "}, .groups = " + std::to_string(groups),
                   k, &kernels::Conv2dTranspose);
}

StatusOr<OpLowering> LowerPool(Inputs in, const Attrs& attrs, bool is_max) {
  static constexpr std::string_view kMaxKnown[] = {"pool_size", "strides", "padding", "dilation",
                                                   "ceil_mode"};
  static constexpr std::string_view kAvgKnown[] = {"pool_size", "strides",   "padding",
                                                   "dilation",  "ceil_mode", "count_include_pad"};
  RETURN_IF_ERROR(is_max ? CheckKnownAttrs(attrs, kMaxKnown) : CheckKnownAttrs(attrs, kAvgKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 4));
  if (attrs.find("pool_size") == attrs.end()) {
    return InvalidArgumentError("attribute 'pool_size' is required");
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> pool, GetIntsAttr(attrs, "pool_size", 2, {}));
  for (int64_t p : pool) {
    if (p < 1 || p > kernels::internal::kMaxAttrValue) {
      return InvalidArgumentError("pool_size must be in [1, 2^30]");
    }
  }
  ASSIGN_OR_RETURN(Window w, GetWindow(attrs));
  ASSIGN_OR_RETURN(int64_t ceil_mode, GetIntAttr(attrs, "ceil_mode", 0));
  ASSIGN_OR_RETURN(int64_t include_pad, GetIntAttr(attrs, "count_include_pad", 0));
  ASSIGN_OR_RETURN(Shape out, WindowOutput(in[0], in[0].shape[1], w, pool, ceil_mode != 0));
  kernels::Pool2dAttrs k;
  CopyDims(pool, k.pool_size);
  CopyDims(w.strides, k.strides);
  CopyDims(w.padding, k.padding);
  CopyDims(w.dilation, k.dilation);
  k.ceil_mode = ceil_mode != 0;
  k.count_include_pad = include_pad != 0;
  const std::string init = ".pool_size = {" + Join(pool) + "}, " + WindowInitializer(w) +
                           ", .ceil_mode = " + Bool(ceil_mode) +
                           ", .count_include_pad = " + Bool(include_pad);
  return WithAttrs(TensorInfo{out, DataType::Float32()}, is_max ? "MaxPool2d" : "AvgPool2d",
                   "Pool2dAttrs", init, k, is_max ? &kernels::MaxPool2d : &kernels::AvgPool2d);
}

StatusOr<OpLowering> LowerGlobalPool(Inputs in, const Attrs& attrs, bool is_max) {
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 4));
  TensorInfo out{{in[0].shape[0], in[0].shape[1], 1, 1}, DataType::Float32()};
  if (is_max) return Plain(std::move(out), "GlobalMaxPool2d", &kernels::GlobalMaxPool2d);
  return Plain(std::move(out), "GlobalAvgPool2d", &kernels::GlobalAvgPool2d);
}

StatusOr<OpLowering> LowerBiasAdd(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axis"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t axis_attr, GetIntAttr(attrs, "axis", 1));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, in[0].shape.size()));
  RETURN_IF_ERROR(CheckChannelVectors(in, 1, in[0].shape[axis]));
  return WithAttrs(in[0], "BiasAdd", "BiasAddAttrs", ".axis = " + std::to_string(axis_attr),
                   kernels::BiasAddAttrs{axis_attr}, &kernels::BiasAdd);
}

StatusOr<OpLowering> LowerBatchNorm(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axis", "epsilon"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 5, 5));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t axis_attr, GetIntAttr(attrs, "axis", 1));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, in[0].shape.size()));
  RETURN_IF_ERROR(CheckChannelVectors(in, 1, in[0].shape[axis]));
  ASSIGN_OR_RETURN(double epsilon, GetFloatAttr(attrs, "epsilon", 1e-5));
  if (!(epsilon >= 0)) return InvalidArgumentError("epsilon must be non-negative");
  return WithAttrs(in[0], "BatchNorm", "BatchNormAttrs",
                   ".axis = " + std::to_string(axis_attr) + ", .epsilon = " + FloatLiteral(epsilon),
                   kernels::BatchNormAttrs{axis_attr, epsilon}, &kernels::BatchNorm);
}

StatusOr<OpLowering> LowerLayerNorm(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axis", "epsilon"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 3));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t axis_attr, GetIntAttr(attrs, "axis", -1));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, in[0].shape.size()));
  ASSIGN_OR_RETURN(double epsilon, GetFloatAttr(attrs, "epsilon", 1e-5));
  if (!(epsilon >= 0)) return InvalidArgumentError("epsilon must be non-negative");
  const Shape normalized(in[0].shape.begin() + axis, in[0].shape.end());
  ASSIGN_OR_RETURN(int64_t count, ShapeNumElements(normalized));
  for (size_t i = 1; i < in.size(); ++i) {
    ASSIGN_OR_RETURN(int64_t n, ShapeNumElements(in[i].shape));
    if (n != count) {
      return UnimplementedError("input " + std::to_string(i) + " " + in[i].ToString() +
                                " must hold exactly the normalised shape " +
                                ShapeToString(normalized) + " (other broadcasts are not supported)");
    }
  }
  return WithAttrs(in[0], "LayerNorm", "LayerNormAttrs",
                   ".axis = " + std::to_string(axis) + ", .epsilon = " + FloatLiteral(epsilon),
                   kernels::LayerNormAttrs{axis, epsilon}, &kernels::LayerNorm);
}

namespace {

// The 3-D window attributes: strides and dilation (3 values), padding (6: front, top, left,
// back, bottom, right) and the output's spatial sizes for `kernel`.
struct Window3d {
  Shape strides, padding, dilation, out;
};

StatusOr<Window3d> GetWindow3d(const TensorInfo& data, std::span<const int64_t> kernel,
                               const Attrs& attrs, bool ceil_mode) {
  Window3d w;
  ASSIGN_OR_RETURN(w.strides, GetIntsAttr(attrs, "strides", 3, {1, 1, 1}));
  ASSIGN_OR_RETURN(w.dilation, GetIntsAttr(attrs, "dilation", 3, {1, 1, 1}));
  ASSIGN_OR_RETURN(w.padding, GetIntsAttr(attrs, "padding", 6, {0, 0, 0, 0, 0, 0}));
  for (int a = 0; a < 3; ++a) {
    const int64_t limit = kernels::internal::kMaxAttrValue;
    if (w.strides[a] < 1 || w.strides[a] > limit || w.dilation[a] < 1 || w.dilation[a] > limit ||
        w.padding[a] < 0 || w.padding[a] > limit || w.padding[a + 3] < 0 ||
        w.padding[a + 3] > limit || kernel[a] < 1 || kernel[a] > limit) {
      return InvalidArgumentError("strides, dilation, kernel and padding are out of range");
    }
    const int64_t n = kernels::internal::WindowCount(data.shape[2 + a], w.padding[a],
                                                     w.padding[a + 3], kernel[a], w.strides[a],
                                                     w.dilation[a], ceil_mode);
    if (n < 0) return InvalidArgumentError("the window does not fit input " + data.ToString());
    w.out.push_back(n);
  }
  return w;
}

std::string Window3dInitializer(const Window3d& w) {
  return ".strides = {" + Join(w.strides) + "}, .padding = {" + Join(w.padding) +
         "}, .dilation = {" + Join(w.dilation) + "}";
}

}  // namespace

StatusOr<OpLowering> LowerConv3d(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"strides", "padding", "dilation", "groups"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
  RETURN_IF_ERROR(CheckFloat32(in));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 5));
  RETURN_IF_ERROR(CheckRank(in[1], "weight", 5));
  ASSIGN_OR_RETURN(int64_t groups, GetIntAttr(attrs, "groups", 1));
  const Shape& data = in[0].shape;
  const Shape& weight = in[1].shape;
  if (groups < 1 || data[1] % groups != 0 || weight[0] % groups != 0 ||
      weight[1] * groups != data[1]) {
    return InvalidArgumentError("weight " + in[1].ToString() + " does not match data " +
                                in[0].ToString() + " with groups " + std::to_string(groups));
  }
  ASSIGN_OR_RETURN(Window3d w, GetWindow3d(in[0], {&weight[2], 3}, attrs, false));
  kernels::Conv3dAttrs k;
  CopyDims(w.strides, k.strides);
  CopyDims(w.padding, k.padding);
  CopyDims(w.dilation, k.dilation);
  k.groups = groups;
  return WithAttrs(TensorInfo{{data[0], weight[0], w.out[0], w.out[1], w.out[2]},
                              DataType::Float32()},
                   "Conv3d", "Conv3dAttrs",
                   Window3dInitializer(w) + ", .groups = " + std::to_string(groups), k,
                   &kernels::Conv3d);
}

StatusOr<OpLowering> LowerPool3d(Inputs in, const Attrs& attrs, bool is_max) {
  static constexpr std::string_view kKnown[] = {"pool_size", "strides",   "padding",
                                                "dilation",  "ceil_mode", "count_include_pad"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 5));
  if (attrs.find("pool_size") == attrs.end()) {
    return InvalidArgumentError("attribute 'pool_size' is required");
  }
  ASSIGN_OR_RETURN(Shape pool, GetIntsAttr(attrs, "pool_size", 3, {}));
  ASSIGN_OR_RETURN(int64_t ceil_mode, GetIntAttr(attrs, "ceil_mode", 0));
  ASSIGN_OR_RETURN(int64_t include_pad, GetIntAttr(attrs, "count_include_pad", 0));
  ASSIGN_OR_RETURN(Window3d w, GetWindow3d(in[0], pool, attrs, ceil_mode != 0));
  kernels::Pool3dAttrs k;
  CopyDims(pool, k.pool_size);
  CopyDims(w.strides, k.strides);
  CopyDims(w.padding, k.padding);
  CopyDims(w.dilation, k.dilation);
  k.ceil_mode = ceil_mode != 0;
  k.count_include_pad = include_pad != 0;
  const Shape& data = in[0].shape;
  return WithAttrs(TensorInfo{{data[0], data[1], w.out[0], w.out[1], w.out[2]},
                              DataType::Float32()},
                   is_max ? "MaxPool3d" : "AvgPool3d", "Pool3dAttrs",
                   ".pool_size = {" + Join(pool) + "}, " + Window3dInitializer(w) +
                       ", .ceil_mode = " + Bool(ceil_mode) +
                       ", .count_include_pad = " + Bool(include_pad),
                   k, is_max ? &kernels::MaxPool3d : &kernels::AvgPool3d);
}

}  // namespace ferry::compiler::lowering
