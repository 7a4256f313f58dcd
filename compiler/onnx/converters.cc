#include "compiler/onnx/converters.h"

#include <algorithm>

namespace ferry::compiler::onnx_import {
namespace {

const std::vector<Converter>& ConverterTable() {
  static const std::vector<Converter> kTable = {
      {"Abs", ConvertUnary, {}},
      {"Add", ConvertBinary, {}},
      {"AveragePool", ConvertAveragePool, {}},
      {"BatchNormalization", ConvertBatchNormalization, {}},
      {"Cast", ConvertCast, {}},
      {"Clip", ConvertClip, {1, 2}},
      {"Concat", ConvertConcat, {}},
      {"Constant", ConvertConstant, {}},
      {"ConstantOfShape", ConvertConstantOfShape, {0}},
      {"Conv", ConvertConv, {}},
      {"ConvTranspose", ConvertConvTranspose, {}},
      {"Div", ConvertBinary, {}},
      {"Dropout", ConvertDropout, {1, 2}},
      {"Erf", ConvertUnary, {}},
      {"Exp", ConvertUnary, {}},
      {"Flatten", ConvertFlatten, {}},
      {"Gather", ConvertGather, {}},
      {"Gemm", ConvertGemm, {}},
      {"GlobalAveragePool", ConvertGlobalAveragePool, {}},
      {"GlobalMaxPool", ConvertGlobalMaxPool, {}},
      {"HardSigmoid", ConvertUnary, {}},
      {"HardSwish", ConvertUnary, {}},
      {"Identity", ConvertIdentity, {}},
      {"LayerNormalization", ConvertLayerNormalization, {}},
      {"LeakyRelu", ConvertUnary, {}},
      {"Log", ConvertUnary, {}},
      {"LogSoftmax", ConvertSoftmax, {}},
      {"MatMul", ConvertMatMul, {}},
      {"MaxPool", ConvertMaxPool, {}},
      {"Mul", ConvertBinary, {}},
      {"Neg", ConvertUnary, {}},
      {"Pad", ConvertPad, {1, 2}},
      {"Pow", ConvertBinary, {}},
      {"Reciprocal", ConvertUnary, {}},
      {"ReduceMean", ConvertReduce, {}},
      {"ReduceSum", ConvertReduce, {1}},
      {"Relu", ConvertUnary, {}},
      {"Reshape", ConvertReshape, {1}},
      {"Resize", ConvertResize, {1, 2, 3}},
      {"Shape", ConvertShape, {}},
      {"Sigmoid", ConvertUnary, {}},
      {"Slice", ConvertSlice, {1, 2, 3, 4}},
      {"Softmax", ConvertSoftmax, {}},
      {"Split", ConvertSplit, {1}},
      {"Sqrt", ConvertUnary, {}},
      {"Squeeze", ConvertSqueeze, {1}},
      {"Sub", ConvertBinary, {}},
      {"Tanh", ConvertUnary, {}},
      {"Transpose", ConvertTranspose, {}},
      {"Unsqueeze", ConvertUnsqueeze, {1}},
  };
  return kTable;
}

}  // namespace

const Converter* FindConverter(const std::string& op_type) {
  for (const Converter& c : ConverterTable()) {
    if (op_type == c.op_type) return &c;
  }
  return nullptr;
}

std::vector<std::string> SupportedOnnxOps() {
  std::vector<std::string> ops;
  for (const Converter& c : ConverterTable()) ops.emplace_back(c.op_type);
  std::sort(ops.begin(), ops.end());
  return ops;
}

StatusOr<Value> ReshapeTo(NodeContext& ctx, const Value& v, std::vector<int64_t> shape) {
  if (shape == v.info.shape) return v;
  return ctx.Apply("reshape", {v}, {{"shape", std::move(shape)}});
}

StatusOr<int64_t> NormalizeOnnxAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return InvalidArgumentError("axis " + std::to_string(axis) + " is out of range for rank " +
                                std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

StatusOr<Value> ScalarConstant(NodeContext& ctx, float value) {
  ASSIGN_OR_RETURN(NDArray a, NDArray::Empty({1}, DataType::Float32(), Device::Cpu()));
  *a.data_as<float>() = value;
  return ctx.Constant(std::move(a));
}

}  // namespace ferry::compiler::onnx_import
