#include "compiler/op_registry.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <numeric>

#include "runtime/kernels/kernel_util.h"
#include "runtime/ndarray.h"

namespace ferry::compiler {
namespace {

using Shape = std::vector<int64_t>;
using LowerFn = std::function<StatusOr<OpLowering>(std::span<const TensorInfo>, const Attrs&)>;

std::string Join(std::span<const int64_t> values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(values[i]);
  }
  return out;
}

std::string FloatLiteral(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  return buffer;
}

// The body of a kernel without attributes.
std::string PlainCall(const char* kernel) {
  return std::string("  return ferry::kernels::") + kernel + "(args, num_args, error);\n";
}

// The body of a kernel taking `attrs_type` initialised by `initializer`.
std::string AttrsCall(const char* kernel, const char* attrs_type, const std::string& initializer) {
  return std::string("  static constexpr ferry::kernels::") + attrs_type + " kAttrs{" +
         initializer + "};\n  return ferry::kernels::" + kernel +
         "(kAttrs, args, num_args, error);\n";
}

Status CheckArity(std::span<const TensorInfo> inputs, size_t min, size_t max) {
  if (inputs.size() < min || inputs.size() > max) {
    return InvalidArgumentError("takes " +
                                (min == max ? std::to_string(min)
                                            : std::to_string(min) + " to " + std::to_string(max)) +
                                " inputs, got " + std::to_string(inputs.size()));
  }
  return Status::Ok();
}

Status CheckFloat32(std::span<const TensorInfo> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!(inputs[i].dtype == DataType::Float32())) {
      return UnimplementedError("input " + std::to_string(i) + " is " +
                                inputs[i].dtype.ToString() + "; only float32 is supported");
    }
  }
  return Status::Ok();
}

Status CheckRank(const TensorInfo& t, const char* role, size_t rank) {
  if (t.shape.size() != rank) {
    return InvalidArgumentError(std::string(role) + " must have rank " + std::to_string(rank) +
                                ", got " + t.ToString());
  }
  return Status::Ok();
}

StatusOr<int> NormalizeAxis(int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    return InvalidArgumentError("axis " + std::to_string(axis) + " is out of range for rank " +
                                std::to_string(rank));
  }
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgumentError("shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                                  " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Spatial window attributes shared by conv2d and the pools.
struct Window {
  std::vector<int64_t> strides, padding, dilation;
};

StatusOr<Window> GetWindow(const Attrs& attrs) {
  Window w;
  ASSIGN_OR_RETURN(w.strides, GetIntsAttr(attrs, "strides", 2, {1, 1}));
  ASSIGN_OR_RETURN(w.dilation, GetIntsAttr(attrs, "dilation", 2, {1, 1}));
  auto padding = GetIntsAttr(attrs, "padding", 4, {0, 0, 0, 0});
  if (!padding.ok()) {
    ASSIGN_OR_RETURN(std::vector<int64_t> two, GetIntsAttr(attrs, "padding", 2, {0, 0}));
    padding = std::vector<int64_t>{two[0], two[1], two[0], two[1]};
  }
  w.padding = *padding;
  for (int64_t v : w.padding) {
    if (v < 0 || v > kernels::internal::kMaxAttrValue) {
      return InvalidArgumentError("padding must be in [0, 2^30]");
    }
  }
  for (const auto* list : {&w.strides, &w.dilation}) {
    for (int64_t v : *list) {
      if (v < 1 || v > kernels::internal::kMaxAttrValue) {
        return InvalidArgumentError("strides and dilation must be in [1, 2^30]");
      }
    }
  }
  return w;
}

StatusOr<Shape> WindowOutput(const TensorInfo& data, int64_t channels, const Window& w,
                             std::span<const int64_t> kernel, bool ceil_mode) {
  Shape out = {data.shape[0], channels, 0, 0};
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t n = kernels::internal::WindowCount(
        data.shape[2 + axis], w.padding[axis], w.padding[axis + 2], kernel[axis],
        w.strides[axis], w.dilation[axis], ceil_mode);
    if (n < 0) {
      return InvalidArgumentError("window of size " + std::to_string(kernel[axis]) +
                                  " does not fit input " + data.ToString() + " with its padding");
    }
    out[2 + axis] = n;
  }
  return out;
}

std::string WindowInitializer(const Window& w) {
  return ".strides = {" + Join(w.strides) + "}, .padding = {" + Join(w.padding) +
         "}, .dilation = {" + Join(w.dilation) + "}";
}

StatusOr<OpLowering> LowerDense(std::span<const TensorInfo> in, const Attrs& attrs) {
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
  RETURN_IF_ERROR(CheckFloat32(in));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 2));
  RETURN_IF_ERROR(CheckRank(in[1], "weight", 2));
  if (in[0].shape[1] != in[1].shape[1]) {
    return InvalidArgumentError("data " + in[0].ToString() + " and weight " + in[1].ToString() +
                                " disagree on K");
  }
  return OpLowering{{{in[0].shape[0], in[1].shape[0]}, DataType::Float32()}, PlainCall("Dense")};
}

StatusOr<OpLowering> LowerMatmul(std::span<const TensorInfo> in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"transpose_a", "transpose_b"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
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
  return OpLowering{{out, DataType::Float32()},
                    AttrsCall("Matmul", "MatmulAttrs",
                              std::string(".transpose_a = ") + (ta ? "true" : "false") +
                                  ", .transpose_b = " + (tb ? "true" : "false"))};
}

StatusOr<OpLowering> LowerConv2d(std::span<const TensorInfo> in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"strides", "padding", "dilation", "groups"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 2, 2));
  RETURN_IF_ERROR(CheckFloat32(in));
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
  ASSIGN_OR_RETURN(Shape out, WindowOutput(in[0], weight[0], w, {&weight[2], 2}, false));
  return OpLowering{{out, DataType::Float32()},
                    AttrsCall("Conv2d", "Conv2dAttrs",
                              WindowInitializer(w) + ", .groups = " + std::to_string(groups))};
}

StatusOr<OpLowering> LowerPool(std::span<const TensorInfo> in, const Attrs& attrs, bool is_max) {
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
  std::string init = ".pool_size = {" + Join(pool) + "}, " + WindowInitializer(w) +
                     ", .ceil_mode = " + (ceil_mode ? "true" : "false") +
                     ", .count_include_pad = " + (include_pad ? "true" : "false");
  return OpLowering{{out, DataType::Float32()},
                    AttrsCall(is_max ? "MaxPool2d" : "AvgPool2d", "Pool2dAttrs", init)};
}

StatusOr<OpLowering> LowerGlobalAvgPool(std::span<const TensorInfo> in, const Attrs& attrs) {
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  RETURN_IF_ERROR(CheckRank(in[0], "data", 4));
  return OpLowering{{{in[0].shape[0], in[0].shape[1], 1, 1}, DataType::Float32()},
                    PlainCall("GlobalAvgPool2d")};
}

// Inputs after the first are per-channel vectors along `axis`.
StatusOr<OpLowering> LowerChannelwise(std::span<const TensorInfo> in, const Attrs& attrs,
                                      size_t arity, bool is_batch_norm) {
  static constexpr std::string_view kBiasKnown[] = {"axis"};
  static constexpr std::string_view kBnKnown[] = {"axis", "epsilon"};
  RETURN_IF_ERROR(is_batch_norm ? CheckKnownAttrs(attrs, kBnKnown)
                                : CheckKnownAttrs(attrs, kBiasKnown));
  RETURN_IF_ERROR(CheckArity(in, arity, arity));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t axis_attr, GetIntAttr(attrs, "axis", 1));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, in[0].shape.size()));
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].shape != Shape{in[0].shape[axis]}) {
      return InvalidArgumentError("input " + std::to_string(i) + " must be [" +
                                  std::to_string(in[0].shape[axis]) + "], got " +
                                  in[i].ToString());
    }
  }
  if (!is_batch_norm) {
    return OpLowering{in[0], AttrsCall("BiasAdd", "BiasAddAttrs",
                                       ".axis = " + std::to_string(axis_attr))};
  }
  ASSIGN_OR_RETURN(double epsilon, GetFloatAttr(attrs, "epsilon", 1e-5));
  if (!(epsilon >= 0)) return InvalidArgumentError("epsilon must be non-negative");
  return OpLowering{in[0], AttrsCall("BatchNorm", "BatchNormAttrs",
                                     ".axis = " + std::to_string(axis_attr) +
                                         ", .epsilon = " + FloatLiteral(epsilon))};
}

LowerFn Unary(const char* kernel) {
  return [kernel](std::span<const TensorInfo> in, const Attrs& attrs) -> StatusOr<OpLowering> {
    RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
    RETURN_IF_ERROR(CheckArity(in, 1, 1));
    RETURN_IF_ERROR(CheckFloat32(in));
    return OpLowering{in[0], PlainCall(kernel)};
  };
}

StatusOr<OpLowering> LowerClip(std::span<const TensorInfo> in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"min", "max"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(double lo, GetFloatAttr(attrs, "min", 0.0));
  ASSIGN_OR_RETURN(double hi, GetFloatAttr(attrs, "max", 6.0));
  if (!(lo <= hi)) return InvalidArgumentError("min must not exceed max");
  return OpLowering{in[0], AttrsCall("Clip", "ClipAttrs",
                                     ".min = " + FloatLiteral(lo) + ", .max = " + FloatLiteral(hi))};
}

LowerFn Binary(const char* kernel) {
  return [kernel](std::span<const TensorInfo> in, const Attrs& attrs) -> StatusOr<OpLowering> {
    RETURN_IF_ERROR(CheckKnownAttrs(attrs, {}));
    RETURN_IF_ERROR(CheckArity(in, 2, 2));
    RETURN_IF_ERROR(CheckFloat32(in));
    ASSIGN_OR_RETURN(Shape out, BroadcastShapes(in[0].shape, in[1].shape));
    return OpLowering{{out, DataType::Float32()}, PlainCall(kernel)};
  };
}

StatusOr<OpLowering> LowerConcat(std::span<const TensorInfo> in, const Attrs& attrs) {
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
  return OpLowering{{out, in[0].dtype}, AttrsCall("Concat", "ConcatAttrs",
                                                  ".axis = " + std::to_string(axis))};
}

StatusOr<OpLowering> Reshaped(const TensorInfo& in, Shape out) {
  ASSIGN_OR_RETURN(int64_t in_count, ShapeNumElements(in.shape));
  ASSIGN_OR_RETURN(int64_t out_count, ShapeNumElements(out));
  if (in_count != out_count) {
    return InvalidArgumentError("cannot reshape " + in.ToString() + " to " + ShapeToString(out));
  }
  return OpLowering{{std::move(out), in.dtype}, PlainCall("Reshape")};
}

StatusOr<OpLowering> LowerReshape(std::span<const TensorInfo> in, const Attrs& attrs) {
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

StatusOr<OpLowering> LowerFlatten(std::span<const TensorInfo> in, const Attrs& attrs) {
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

StatusOr<OpLowering> LowerTranspose(std::span<const TensorInfo> in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axes"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  const size_t rank = in[0].shape.size();
  Shape reversed(rank);
  for (size_t i = 0; i < rank; ++i) reversed[i] = static_cast<int64_t>(rank - 1 - i);
  ASSIGN_OR_RETURN(Shape axes, GetIntListAttr(attrs, "axes", reversed));
  Shape sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted.size() != rank || sorted[i] != static_cast<int64_t>(i)) {
      return InvalidArgumentError("axes " + ShapeToString(axes) +
                                  " is not a permutation of the input's " +
                                  std::to_string(rank) + " axes");
    }
  }
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) out[i] = in[0].shape[axes[i]];
  return OpLowering{{out, in[0].dtype},
                    AttrsCall("Transpose", "TransposeAttrs",
                              ".ndim = " + std::to_string(rank) + ", .axes = {" + Join(axes) + "}")};
}

StatusOr<OpLowering> LowerSoftmax(std::span<const TensorInfo> in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"axis"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t axis, GetIntAttr(attrs, "axis", -1));
  RETURN_IF_ERROR(NormalizeAxis(axis, in[0].shape.size()).status());
  return OpLowering{in[0], AttrsCall("Softmax", "SoftmaxAttrs", ".axis = " + std::to_string(axis))};
}

struct OpEntry {
  const char* name;
  LowerFn lower;
};

const std::vector<OpEntry>& OpTable() {
  static const std::vector<OpEntry> kTable = {
      {"add", Binary("Add")},
      {"avg_pool2d", [](auto in, auto& a) { return LowerPool(in, a, false); }},
      {"batch_norm", [](auto in, auto& a) { return LowerChannelwise(in, a, 5, true); }},
      {"bias_add", [](auto in, auto& a) { return LowerChannelwise(in, a, 2, false); }},
      {"clip", LowerClip},
      {"concat", LowerConcat},
      {"conv2d", LowerConv2d},
      {"dense", LowerDense},
      {"flatten", LowerFlatten},
      {"global_avg_pool2d", LowerGlobalAvgPool},
      {"matmul", LowerMatmul},
      {"max_pool2d", [](auto in, auto& a) { return LowerPool(in, a, true); }},
      {"mul", Binary("Mul")},
      {"relu", Unary("Relu")},
      {"reshape", LowerReshape},
      {"sigmoid", Unary("Sigmoid")},
      {"softmax", LowerSoftmax},
      {"tanh", Unary("Tanh")},
      {"transpose", LowerTranspose},
  };
  return kTable;
}

}  // namespace

StatusOr<OpLowering> LowerOp(const std::string& op, std::span<const TensorInfo> inputs,
                             const Attrs& attrs) {
  for (const OpEntry& entry : OpTable()) {
    if (op != entry.name) continue;
    for (const TensorInfo& t : inputs) {
      if (t.shape.size() > static_cast<size_t>(kernels::kMaxDims)) {
        return InvalidArgumentError(op + ": inputs may have at most 8 dimensions");
      }
    }
    StatusOr<OpLowering> lowered = entry.lower(inputs, attrs);
    if (!lowered.ok()) return lowered.status().WithContext(op);
    return lowered;
  }
  return NotFoundError("unknown operator '" + op + "'");
}

std::vector<std::string> ListOps() {
  std::vector<std::string> names;
  for (const OpEntry& entry : OpTable()) names.emplace_back(entry.name);
  return names;
}

}  // namespace ferry::compiler
