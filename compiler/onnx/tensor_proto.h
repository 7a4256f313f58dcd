// Conversion between ONNX TensorProto (onnx.proto) and Ferry NDArrays on the CPU.
#ifndef FERRY_COMPILER_ONNX_TENSOR_PROTO_H_
#define FERRY_COMPILER_ONNX_TENSOR_PROTO_H_

#include <string>

#include "runtime/data_type.h"
#include "runtime/ndarray.h"

namespace onnx {
class TensorProto;
}  // namespace onnx

namespace ferry::compiler::onnx_import {

// The Ferry dtype of an ONNX TensorProto.DataType. Errors: kUnimplemented for strings,
// complex numbers, float16/bfloat16 and anything unknown.
StatusOr<DataType> DataTypeFromOnnx(int32_t onnx_type);
// The ONNX TensorProto.DataType of a Ferry dtype; kUnimplemented when there is none.
StatusOr<int32_t> DataTypeToOnnx(DataType dtype);

// A CPU array holding the tensor's values, from raw_data or the typed fields. Errors:
// kInvalidArgument when the data does not match the shape (truncated raw_data, a wrong count
// of typed values, a negative dimension); kUnimplemented for external or segmented data and
// the dtypes above.
StatusOr<NDArray> TensorFromProto(const onnx::TensorProto& proto);

// Reads a serialized TensorProto file (an ONNX test data set's input_0.pb). Errors: those
// of ReadFile, kInvalidArgument for bytes that do not parse, and TensorFromProto's.
StatusOr<NDArray> LoadTensorProtoFile(const std::string& path);

}  // namespace ferry::compiler::onnx_import

#endif  // FERRY_COMPILER_ONNX_TENSOR_PROTO_H_
