#include "compiler/lowering_util.h"

#include <cmath>
#include <cstdio>

#include "runtime/kernels/kernel_util.h"
#include "runtime/ndarray.h"

namespace ferry::compiler::lowering {

std::string Join(std::span<const int64_t> values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(values[i]);
  }
  return out;
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


std::string FloatLiteral(double v) {
  if (std::isnan(v)) return "__builtin_nan(\"\")";
  if (std::isinf(v)) return v > 0 ? "__builtin_inf()" : "-__builtin_inf()";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  return buffer;
}

std::string JoinFloats(std::span<const double> values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + FloatLiteral(values[i]);
  return out;
}

std::string Bool(bool v) { return v ? "true" : "false"; }

void CopyDims(std::span<const int64_t> values, int64_t* out) {
  for (size_t i = 0; i < values.size() && i < static_cast<size_t>(kernels::kMaxDims); ++i) {
    out[i] = values[i];
  }
}

OpLowering Plain(TensorInfo output, const char* kernel, KernelFn fn) {
  OpLowering lowering;
  lowering.output = std::move(output);
  lowering.body = std::string("  return ferry::kernels::") + kernel + "(args, num_args, error);\n";
  lowering.evaluate = fn;
  return lowering;
}

}  // namespace ferry::compiler::lowering
