#include "rpc/value_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace ferry::rpc {
namespace {

// Keeps a received frame's bytes alive for the arrays that use them in place.
class FrameHolder final : public Object {
 public:
  explicit FrameHolder(zmq::message_t frame) : frame_(std::move(frame)) {}
  void* data() { return frame_.data(); }

 private:
  zmq::message_t frame_;
};

// Whether `data` may hold elements of `dtype` in place: aligned to the element's size (a
// power of two up to kAllocAlignment), as code reading typed elements assumes.
bool AlignedFor(const void* data, DataType dtype) {
  const size_t element = std::bit_ceil(std::max<size_t>(1, dtype.bytes()));
  const size_t alignment = std::min(element, kAllocAlignment);
  return reinterpret_cast<uintptr_t>(data) % alignment == 0;
}

}  // namespace

NDArray FrameArray(const zmq::message_t& frame, std::vector<int64_t> shape, DataType dtype) {
  auto holder = MakeObject<FrameHolder>(ShareFrame(frame));
  if (frame.size() == 0 || !AlignedFor(holder->data(), dtype)) {
    NDArray copy = NDArray::Empty(std::move(shape), dtype, Device::Cpu()).value();
    if (frame.size() != 0) std::memcpy(copy.data(), frame.data(), frame.size());
    return copy;
  }
  void* data = holder->data();
  return NDArray::Adopt(data, std::move(shape), dtype, Device::Cpu(), nullptr, std::move(holder));
}

bool PackPlainValue(MessageWriter& writer, const Value& value) {
  auto& p = writer.packer();
  switch (value.kind()) {
    case Value::Kind::kNull:
      p.pack_array(1);
      p.pack(static_cast<uint8_t>(WireKind::kNull));
      return true;
    case Value::Kind::kBool:
      p.pack_array(2);
      p.pack(static_cast<uint8_t>(WireKind::kBool));
      p.pack(value.As<bool>().value());
      return true;
    case Value::Kind::kInt:
      p.pack_array(2);
      p.pack(static_cast<uint8_t>(WireKind::kInt));
      p.pack(value.As<int64_t>().value());
      return true;
    case Value::Kind::kFloat:
      p.pack_array(2);
      p.pack(static_cast<uint8_t>(WireKind::kFloat));
      writer.PackFloat64(value.As<double>().value());
      return true;
    case Value::Kind::kString:
      p.pack_array(2);
      p.pack(static_cast<uint8_t>(WireKind::kString));
      p.pack(value.As<std::string>().value());
      return true;
    case Value::Kind::kBytes: {
      Bytes bytes = value.As<Bytes>().value();
      const uint32_t frame = writer.AddFrame(CopyFrame(bytes.data));
      p.pack_array(2);
      p.pack(static_cast<uint8_t>(WireKind::kBytes));
      p.pack(frame);
      return true;
    }
    case Value::Kind::kDevice: {
      const Device d = value.As<Device>().value();
      p.pack_array(3);
      p.pack(static_cast<uint8_t>(WireKind::kDevice));
      p.pack(static_cast<int32_t>(d.type));
      p.pack(d.id);
      return true;
    }
    case Value::Kind::kDataType: {
      const DataType t = value.As<DataType>().value();
      p.pack_array(4);
      p.pack(static_cast<uint8_t>(WireKind::kDataType));
      p.pack(t.code);
      p.pack(t.bits);
      p.pack(t.lanes);
      return true;
    }
    default:
      return false;
  }
}

void PackHostArray(MessageWriter& writer, const NDArray& array) {
  const uint32_t frame = writer.AddFrame(ArrayFrame(array, 0, array.NumBytes()));
  auto& p = writer.packer();
  p.pack_array(4);
  p.pack(static_cast<uint8_t>(WireKind::kHostArray));
  PackShape(p, array.shape());
  PackDataType(p, array.dtype());
  p.pack(frame);
}

StatusOr<WireKind> ReadWireKind(const msgpack::object& encoded) {
  ASSIGN_OR_RETURN(const msgpack::object* a, ReadArray(encoded, "value", 1));
  ASSIGN_OR_RETURN(uint64_t kind, ReadUint(a->via.array.ptr[0], "value kind"));
  if (kind > static_cast<uint64_t>(WireKind::kFunction)) {
    return InvalidArgumentError("malformed message: unknown value kind " + std::to_string(kind));
  }
  return static_cast<WireKind>(kind);
}

StatusOr<std::optional<Value>> ReadPlainValue(const msgpack::object& encoded,
                                              const ParsedMessage& message) {
  ASSIGN_OR_RETURN(WireKind kind, ReadWireKind(encoded));
  const msgpack::object* items = encoded.via.array.ptr;
  const uint32_t size = encoded.via.array.size;
  auto need = [&](uint32_t n) -> Status {
    if (size < n) return InvalidArgumentError("malformed message: value is missing fields");
    return Status::Ok();
  };
  switch (kind) {
    case WireKind::kNull:
      return std::optional<Value>(Value());
    case WireKind::kBool: {
      RETURN_IF_ERROR(need(2));
      ASSIGN_OR_RETURN(bool b, ReadBool(items[1], "bool value"));
      return std::optional<Value>(Value(b));
    }
    case WireKind::kInt: {
      RETURN_IF_ERROR(need(2));
      ASSIGN_OR_RETURN(int64_t i, ReadInt(items[1], "int value"));
      return std::optional<Value>(Value(i));
    }
    case WireKind::kFloat: {
      RETURN_IF_ERROR(need(2));
      ASSIGN_OR_RETURN(double d, ReadFloat(items[1], "float value"));
      return std::optional<Value>(Value(d));
    }
    case WireKind::kString: {
      RETURN_IF_ERROR(need(2));
      ASSIGN_OR_RETURN(std::string s, ReadString(items[1], "string value"));
      return std::optional<Value>(Value(std::move(s)));
    }
    case WireKind::kBytes: {
      RETURN_IF_ERROR(need(2));
      ASSIGN_OR_RETURN(uint64_t index, ReadUint(items[1], "bytes frame"));
      ASSIGN_OR_RETURN(const zmq::message_t* frame, message.Frame(index));
      return std::optional<Value>(Value(Bytes{frame->to_string()}));
    }
    case WireKind::kDevice: {
      RETURN_IF_ERROR(need(3));
      ASSIGN_OR_RETURN(int64_t type, ReadInt(items[1], "device type"));
      ASSIGN_OR_RETURN(int64_t id, ReadInt(items[2], "device id"));
      ASSIGN_OR_RETURN(Device device, WireDevice(type, id));
      return std::optional<Value>(Value(device));
    }
    case WireKind::kDataType: {
      RETURN_IF_ERROR(need(4));
      ASSIGN_OR_RETURN(uint64_t code, ReadUint(items[1], "dtype code"));
      ASSIGN_OR_RETURN(uint64_t bits, ReadUint(items[2], "dtype bits"));
      ASSIGN_OR_RETURN(uint64_t lanes, ReadUint(items[3], "dtype lanes"));
      if (code > 255 || bits > 255 || lanes > 65535) {
        return InvalidArgumentError("malformed message: dtype out of range");
      }
      return std::optional<Value>(Value(DataType{static_cast<uint8_t>(code),
                                                 static_cast<uint8_t>(bits),
                                                 static_cast<uint16_t>(lanes)}));
    }
    case WireKind::kHostArray: {
      RETURN_IF_ERROR(need(4));
      ASSIGN_OR_RETURN(std::vector<int64_t> shape, ReadIntArray(items[1], "array shape"));
      ASSIGN_OR_RETURN(DataType dtype, ReadDataType(items[2]));
      ASSIGN_OR_RETURN(uint64_t index, ReadUint(items[3], "array frame"));
      ASSIGN_OR_RETURN(const zmq::message_t* frame, message.Frame(index));
      if (shape.size() > static_cast<size_t>(kMaxNdim)) {
        return InvalidArgumentError("malformed message: array has too many dimensions");
      }
      ASSIGN_OR_RETURN(int64_t elements, ShapeNumElements(shape));
      uint64_t bytes = 0;
      const bool overflows =
          __builtin_mul_overflow(static_cast<uint64_t>(elements), dtype.bytes(), &bytes);
      if (overflows || bytes != frame->size()) {
        return InvalidArgumentError(
            "malformed message: array " + dtype.ToString() + ShapeToString(shape) + " needs " +
            (overflows ? std::string("more than 2^64") : std::to_string(bytes)) +
            " bytes, frame has " + std::to_string(frame->size()));
      }
      return std::optional<Value>(Value(FrameArray(*frame, std::move(shape), dtype)));
    }
    default:
      return std::optional<Value>();
  }
}

}  // namespace ferry::rpc
