#include "compiler/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <cstring>

#include "runtime/file_util.h"

namespace ferry::compiler::onnx_import {
namespace {

using onnx::TensorProto;

// Copies `count` typed values into `out` as T.
template <typename T, typename Field>
void CopyTyped(const Field& field, T* out) {
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
}

template <typename Field>
Status CheckCount(const Field& field, int64_t count, const char* name) {
  if (field.size() != count) {
    return InvalidArgumentError(std::string("tensor has ") + std::to_string(field.size()) + " " +
                                name + " values for " + std::to_string(count) + " elements");
  }
  return Status::Ok();
}

Status FillTyped(const TensorProto& proto, NDArray& array) {
  const int64_t count = array.NumElements();
  void* data = array.data();
  switch (proto.data_type()) {
    case TensorProto::FLOAT:
      RETURN_IF_ERROR(CheckCount(proto.float_data(), count, "float_data"));
      CopyTyped(proto.float_data(), static_cast<float*>(data));
      return Status::Ok();
    case TensorProto::DOUBLE:
      RETURN_IF_ERROR(CheckCount(proto.double_data(), count, "double_data"));
      CopyTyped(proto.double_data(), static_cast<double*>(data));
      return Status::Ok();
    case TensorProto::INT64:
      RETURN_IF_ERROR(CheckCount(proto.int64_data(), count, "int64_data"));
      CopyTyped(proto.int64_data(), static_cast<int64_t*>(data));
      return Status::Ok();
    case TensorProto::UINT32:
    case TensorProto::UINT64:
      RETURN_IF_ERROR(CheckCount(proto.uint64_data(), count, "uint64_data"));
      if (proto.data_type() == TensorProto::UINT32) {
        CopyTyped(proto.uint64_data(), static_cast<uint32_t*>(data));
      } else {
        CopyTyped(proto.uint64_data(), static_cast<uint64_t*>(data));
      }
      return Status::Ok();
    default:
      break;
  }
  // int32_data carries INT32, INT16, INT8, UINT16, UINT8 and BOOL.
  RETURN_IF_ERROR(CheckCount(proto.int32_data(), count, "int32_data"));
  switch (proto.data_type()) {
    case TensorProto::INT32: CopyTyped(proto.int32_data(), static_cast<int32_t*>(data)); break;
    case TensorProto::INT16: CopyTyped(proto.int32_data(), static_cast<int16_t*>(data)); break;
    case TensorProto::INT8: CopyTyped(proto.int32_data(), static_cast<int8_t*>(data)); break;
    case TensorProto::UINT16: CopyTyped(proto.int32_data(), static_cast<uint16_t*>(data)); break;
    case TensorProto::UINT8:
    case TensorProto::BOOL: CopyTyped(proto.int32_data(), static_cast<uint8_t*>(data)); break;
    default: return UnimplementedError("tensor data type " + std::to_string(proto.data_type()));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<DataType> DataTypeFromOnnx(int32_t onnx_type) {
  switch (onnx_type) {
    case TensorProto::FLOAT: return DataType::Float32();
    case TensorProto::DOUBLE: return DataType::Float64();
    case TensorProto::INT8: return DataType::Int8();
    case TensorProto::INT16: return DataType{kDLInt, 16, 1};
    case TensorProto::INT32: return DataType::Int32();
    case TensorProto::INT64: return DataType::Int64();
    case TensorProto::UINT8: return DataType::UInt8();
    case TensorProto::UINT16: return DataType{kDLUInt, 16, 1};
    case TensorProto::UINT32: return DataType{kDLUInt, 32, 1};
    case TensorProto::UINT64: return DataType{kDLUInt, 64, 1};
    case TensorProto::BOOL: return DataType::Bool();
    default: break;
  }
  const std::string name = TensorProto::DataType_IsValid(onnx_type)
                               ? TensorProto::DataType_Name(
                                     static_cast<TensorProto::DataType>(onnx_type))
                               : std::to_string(onnx_type);
  return UnimplementedError("ONNX data type " + name + " is not supported");
}

StatusOr<int32_t> DataTypeToOnnx(DataType dtype) {
  for (int32_t t = TensorProto::FLOAT; t <= TensorProto::BFLOAT16; ++t) {
    StatusOr<DataType> candidate = DataTypeFromOnnx(t);
    if (candidate.ok() && *candidate == dtype) return t;
  }
  return UnimplementedError("no ONNX data type for " + dtype.ToString());
}

StatusOr<NDArray> TensorFromProto(const TensorProto& proto) {
  const std::string label = proto.name().empty() ? "tensor" : "tensor '" + proto.name() + "'";
  if (proto.data_location() == TensorProto::EXTERNAL) {
    return UnimplementedError(label + " keeps its data in an external file");
  }
  if (proto.has_segment()) return UnimplementedError(label + " is segmented");
  StatusOr<DataType> dtype = DataTypeFromOnnx(proto.data_type());
  if (!dtype.ok()) return dtype.status().WithContext(label);
  std::vector<int64_t> shape(proto.dims().begin(), proto.dims().end());
  StatusOr<int64_t> count = ShapeNumElements(shape);
  if (!count.ok()) return count.status().WithContext(label);
  // Check the data's size before allocating: a corrupt header must not allocate terabytes.
  if (proto.has_raw_data()) {
    const uint64_t needed = static_cast<uint64_t>(*count) * dtype->bytes();
    if (*count > 0 && needed / static_cast<uint64_t>(*count) != dtype->bytes()) {
      return InvalidArgumentError(label + " is too large");
    }
    if (proto.raw_data().size() != needed) {
      return InvalidArgumentError(label + " has " + std::to_string(proto.raw_data().size()) +
                                  " bytes of raw_data; " + dtype->ToString() +
                                  ShapeToString(shape) + " needs " + std::to_string(needed));
    }
  } else {
    const int64_t typed = proto.float_data_size() + proto.double_data_size() +
                          proto.int32_data_size() + proto.int64_data_size() +
                          proto.uint64_data_size();
    if (typed != *count) {
      return InvalidArgumentError(label + " holds " + std::to_string(typed) + " values for " +
                                  ShapeToString(shape) + " (" + std::to_string(*count) +
                                  " elements)");
    }
  }
  StatusOr<NDArray> array = NDArray::Empty(shape, *dtype, Device::Cpu());
  if (!array.ok()) return array.status().WithContext(label);
  if (proto.has_raw_data()) {
    if (array->NumBytes() > 0) std::memcpy(array->data(), proto.raw_data().data(), array->NumBytes());
    return *array;
  }
  Status filled = FillTyped(proto, *array);
  if (!filled.ok()) return filled.WithContext(label);
  return *array;
}

StatusOr<NDArray> LoadTensorProtoFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  TensorProto proto;
  if (!proto.ParseFromString(bytes)) {
    return InvalidArgumentError(path + " is not a serialized ONNX TensorProto");
  }
  StatusOr<NDArray> array = TensorFromProto(proto);
  if (!array.ok()) return array.status().WithContext(path);
  return array;
}

}  // namespace ferry::compiler::onnx_import
