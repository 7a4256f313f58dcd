// Helpers shared by the operator lowerings (op_registry.h); internal to ferry_compiler.
//
// A lowering validates a node's inputs and attributes, infers its output, and returns the
// kernel call twice over: as C++ source for the model library, and as a closure that runs the
// very same kernel with the very same attribute values in this process (constant folding).
#ifndef FERRY_COMPILER_LOWERING_UTIL_H_
#define FERRY_COMPILER_LOWERING_UTIL_H_

#include <span>
#include <string>
#include <vector>

#include "compiler/attrs.h"
#include "compiler/op_registry.h"
#include "runtime/kernels/kernels.h"

namespace ferry::compiler::lowering {

using Shape = std::vector<int64_t>;
using KernelFn = int (*)(DLTensor* const*, int32_t, FerryKernelError*);
template <typename A>
using AttrsKernelFn = int (*)(const A&, DLTensor* const*, int32_t, FerryKernelError*);

// "1, 2, 3".
std::string Join(std::span<const int64_t> values);
// A C++ literal that reads back as exactly `v` ("inf"/"nan" spelled as expressions).
std::string FloatLiteral(double v);
std::string JoinFloats(std::span<const double> values);
std::string Bool(bool v);

// A call of a kernel without attributes.
OpLowering Plain(TensorInfo output, const char* kernel, KernelFn fn);

// A call of a kernel taking `attrs`; `initializer` is the designated-initializer list that
// builds the same value in generated code (e.g. ".axis = 1").
template <typename A>
OpLowering WithAttrs(TensorInfo output, const char* kernel, const char* attrs_type,
                     const std::string& initializer, const A& attrs, AttrsKernelFn<A> fn) {
  OpLowering lowering;
  lowering.output = std::move(output);
  lowering.body = std::string("  static constexpr ferry::kernels::") + attrs_type + " kAttrs{" +
                  initializer + "};\n  return ferry::kernels::" + kernel +
                  "(kAttrs, args, num_args, error);\n";
  lowering.evaluate = [attrs, fn](DLTensor* const* args, int32_t num_args,
                                  FerryKernelError* error) { return fn(attrs, args, num_args, error); };
  return lowering;
}

Status CheckArity(std::span<const TensorInfo> inputs, size_t min, size_t max);
// kUnimplemented naming the input for anything but float32.
Status CheckFloat32(std::span<const TensorInfo> inputs);
Status CheckRank(const TensorInfo& t, const char* role, size_t rank);
StatusOr<int> NormalizeAxis(int64_t axis, size_t rank);
StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// Fills a fixed-size kernel attribute array from `values` (at most kernels::kMaxDims).
void CopyDims(std::span<const int64_t> values, int64_t* out);

// Spatial window attributes shared by conv2d, conv2d_transpose and the pools: strides,
// dilation (2 values) and padding (2 values, or 4 as top, left, bottom, right).
struct Window {
  std::vector<int64_t> strides, padding, dilation;
};
StatusOr<Window> GetWindow(const Attrs& attrs);
StatusOr<Shape> WindowOutput(const TensorInfo& data, int64_t channels, const Window& w,
                             std::span<const int64_t> kernel, bool ceil_mode);
std::string WindowInitializer(const Window& w);

}  // namespace ferry::compiler::lowering

#endif  // FERRY_COMPILER_LOWERING_UTIL_H_
