// The ONNX operators Ferry imports: one converter per op_type (default domain, opsets 7-17),
// each turning a node into Ferry operators (op_registry.h) through NodeContext. A converter
// reads every attribute it honours; the importer rejects nodes with attributes left unread,
// so nothing is silently approximated.
#ifndef FERRY_COMPILER_ONNX_CONVERTERS_H_
#define FERRY_COMPILER_ONNX_CONVERTERS_H_

#include <string>
#include <vector>

#include "compiler/onnx/import_context.h"

namespace ferry::compiler::onnx_import {

using ConvertFn = Status (*)(NodeContext& ctx);

struct Converter {
  const char* op_type;
  ConvertFn convert;
  // Inputs that must be constants when the model is built (shapes, axes, pads, scales...).
  std::vector<int> constant_inputs;
};

// Null for an op_type Ferry does not import.
const Converter* FindConverter(const std::string& op_type);
// Sorted op_types.
std::vector<std::string> SupportedOnnxOps();

// Converter functions, by file.
// convert_nn.cc
Status ConvertConv(NodeContext& ctx);
Status ConvertConvTranspose(NodeContext& ctx);
Status ConvertGemm(NodeContext& ctx);
Status ConvertMatMul(NodeContext& ctx);
Status ConvertBatchNormalization(NodeContext& ctx);
Status ConvertMaxPool(NodeContext& ctx);
Status ConvertAveragePool(NodeContext& ctx);
Status ConvertGlobalAveragePool(NodeContext& ctx);
Status ConvertGlobalMaxPool(NodeContext& ctx);
Status ConvertLayerNormalization(NodeContext& ctx);
// convert_math.cc
Status ConvertUnary(NodeContext& ctx);  // by op_type: Relu, Sigmoid, Tanh, Erf, Sqrt, ...
Status ConvertBinary(NodeContext& ctx);  // Add, Sub, Mul, Div, Pow
Status ConvertClip(NodeContext& ctx);
Status ConvertSoftmax(NodeContext& ctx);  // Softmax and LogSoftmax
Status ConvertReduce(NodeContext& ctx);   // ReduceMean and ReduceSum
// convert_tensor.cc
Status ConvertFlatten(NodeContext& ctx);
Status ConvertReshape(NodeContext& ctx);
Status ConvertTranspose(NodeContext& ctx);
Status ConvertConcat(NodeContext& ctx);
Status ConvertSplit(NodeContext& ctx);
Status ConvertSlice(NodeContext& ctx);
Status ConvertSqueeze(NodeContext& ctx);
Status ConvertUnsqueeze(NodeContext& ctx);
Status ConvertGather(NodeContext& ctx);
Status ConvertShape(NodeContext& ctx);
Status ConvertConstant(NodeContext& ctx);
Status ConvertConstantOfShape(NodeContext& ctx);
Status ConvertIdentity(NodeContext& ctx);
Status ConvertDropout(NodeContext& ctx);
Status ConvertCast(NodeContext& ctx);
Status ConvertPad(NodeContext& ctx);
Status ConvertResize(NodeContext& ctx);

// Shared by the converters (convert_util.cc).
// A reshape of `v` to `shape` (folded when constant).
StatusOr<Value> ReshapeTo(NodeContext& ctx, const Value& v, std::vector<int64_t> shape);
// Maps a possibly negative axis into [0, rank). Errors: kInvalidArgument.
StatusOr<int64_t> NormalizeOnnxAxis(int64_t axis, int64_t rank);
// A float32 scalar constant of shape [1].
StatusOr<Value> ScalarConstant(NodeContext& ctx, float value);

}  // namespace ferry::compiler::onnx_import

#endif  // FERRY_COMPILER_ONNX_CONVERTERS_H_
