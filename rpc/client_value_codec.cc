#include "rpc/client_value_codec.h"

#include <cstring>

#include "rpc/remote_objects.h"
#include "rpc/session_core.h"
#include "rpc/value_codec.h"

namespace ferry::rpc {

Status ClientValueCodec::PackArgument(MessageWriter& w, const Value& value) const {
  if (value.kind() == Value::Kind::kDevice) {
    // The session knows its devices without the client's remote mask.
    const Device device = value.As<Device>().value();
    PackPlainValue(w, Value(device.Local()));
    return Status::Ok();
  }
  if (PackPlainValue(w, value)) return Status::Ok();
  auto foreign = [](std::string_view what) {
    return InvalidArgumentError(std::string(what) +
                                " does not belong to this session and cannot be sent to it");
  };
  // [kind, handle]: an object living in the session.
  auto pack_handle = [&w](WireKind kind, uint64_t handle) {
    w.packer().pack_array(2);
    w.packer().pack(static_cast<uint8_t>(kind));
    w.packer().pack(handle);
    return Status::Ok();
  };
  switch (value.kind()) {
    case Value::Kind::kNDArray: {
      NDArray array = value.As<NDArray>().value();
      if (array.is_null()) return InvalidArgumentError("a null array cannot be sent");
      if (array.device().is_remote()) {
        if (array.device_api() != device_api_) return foreign("the array");
        return pack_handle(WireKind::kRemoteArray,
                           static_cast<uint64_t>(reinterpret_cast<uintptr_t>(array.data())));
      }
      if (array.device().type != kDLCPU) {
        return InvalidArgumentError("an array on " + array.device().ToString() +
                                    " cannot be sent; copy it to the host first");
      }
      PackHostArray(w, array);
      return Status::Ok();
    }
    case Value::Kind::kModule: {
      Module module = value.As<Module>().value();
      auto* remote = dynamic_cast<RemoteModuleNode*>(module.get());
      if (remote == nullptr || remote->core() != session_) return foreign("the module");
      return pack_handle(WireKind::kModule, remote->handle());
    }
    default: {
      PackedFunc func = value.As<PackedFunc>().value();
      auto* remote = dynamic_cast<RemoteFunctionNode*>(func.get());
      if (remote == nullptr || remote->core() != session_) return foreign("the function");
      return pack_handle(WireKind::kFunction, remote->handle());
    }
  }
}

StatusOr<std::vector<Value>> ClientValueCodec::StageArguments(std::span<const Value> args) {
  std::vector<Value> staged;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].kind() != Value::Kind::kNDArray) continue;
    const NDArray array = args[i].As<NDArray>().value();
    if (array.is_null() || array.device().type != kDLCPU || array.NumBytes() <= kInlineArrayBytes) {
      continue;
    }
    if (staged.empty()) staged.assign(args.begin(), args.end());
    StatusOr<NDArray> remote =
        AllocArray(array.shape(), array.dtype(), Device::Remote(Device::Cpu()));
    Status copied = remote.ok() ? remote->CopyFrom(array) : remote.status();
    if (!copied.ok()) return copied.WithContext("streaming argument " + std::to_string(i));
    staged[i] = Value(*remote);
  }
  return staged;
}

StatusOr<NDArray> ClientValueCodec::AllocArray(const std::vector<int64_t>& shape, DataType dtype,
                                               Device device) {
  ASSIGN_OR_RETURN(ParsedMessage reply,
                   endpoint_.Call(MessageType::kAllocArray, 3, [&](MessageWriter& w) {
                     PackShape(w.packer(), shape);
                     PackDataType(w.packer(), dtype);
                     PackDevice(w.packer(), device.Local());
                   }));
  RETURN_IF_ERROR(CheckBodySize(reply, 1));
  ASSIGN_OR_RETURN(Value array, ReadResult(reply.item(0), reply));
  return array.As<NDArray>();
}

bool ClientValueCodec::CopyInlineResult(uint64_t handle, void* to, size_t bytes) {
  if (inline_results_after_ != endpoint_.requests_sent()) {
    inline_results_.clear();  // a request since may have changed the arrays
  }
  for (const InlineResult& result : inline_results_) {
    if (result.handle != handle) continue;
    if (bytes > result.bytes.size()) return false;
    if (bytes != 0) std::memcpy(to, result.bytes.data(), bytes);
    return true;
  }
  return false;
}

NDArray ClientValueCodec::MakeRemoteArray(uint64_t handle, std::vector<int64_t> shape,
                                          DataType dtype, Device remote_device) const {
  return NDArray::Adopt(reinterpret_cast<void*>(static_cast<uintptr_t>(handle)), std::move(shape),
                        dtype, remote_device, device_api_, ObjectPtr<Object>(session_));
}

StatusOr<Value> ClientValueCodec::ReadResult(const msgpack::object& encoded,
                                             const ParsedMessage& message, bool accept_inline) {
  ASSIGN_OR_RETURN(std::optional<Value> plain, ReadPlainValue(encoded, message));
  if (plain && plain->kind() == Value::Kind::kDevice) {
    return Value(Device::Remote(plain->As<Device>().value()));
  }
  if (plain) return std::move(*plain);
  ASSIGN_OR_RETURN(WireKind kind, ReadWireKind(encoded));
  const msgpack::object* items = encoded.via.array.ptr;
  const uint32_t size = encoded.via.array.size;
  if (size < 2) return InvalidArgumentError("malformed reply: value without a handle");
  ASSIGN_OR_RETURN(uint64_t handle, ReadUint(items[1], "handle"));
  switch (kind) {
    case WireKind::kRemoteArray: {
      if (size < 5) return InvalidArgumentError("malformed reply: array without its shape");
      ASSIGN_OR_RETURN(std::vector<int64_t> shape, ReadIntArray(items[2], "shape"));
      ASSIGN_OR_RETURN(DataType dtype, ReadDataType(items[3]));
      ASSIGN_OR_RETURN(Device device, ReadDevice(items[4]));
      NDArray array = MakeRemoteArray(handle, std::move(shape), dtype, Device::Remote(device));
      if (size >= 6 && accept_inline) {
        // [8, handle, shape, dtype, device, frame]: the array's bytes as they were at the reply.
        ASSIGN_OR_RETURN(uint64_t index, ReadUint(items[5], "inline array frame"));
        ASSIGN_OR_RETURN(const zmq::message_t* frame, message.Frame(index));
        if (frame->size() != array.NumBytes()) {
          return InvalidArgumentError("malformed reply: array " + array.ToString() + " needs " +
                                      std::to_string(array.NumBytes()) +
                                      " bytes, its inline frame has " +
                                      std::to_string(frame->size()));
        }
        if (inline_results_after_ != endpoint_.requests_sent()) {
          inline_results_.clear();
          inline_results_after_ = endpoint_.requests_sent();
        }
        inline_results_.push_back(InlineResult{handle, ShareFrame(*frame)});
      }
      return Value(std::move(array));
    }
    case WireKind::kModule: {
      std::string type_key = size >= 3 ? ReadString(items[2], "type key").value_or("") : "";
      return Value(Module(MakeObject<RemoteModuleNode>(ObjectPtr<SessionCore>(session_), handle,
                                                       std::move(type_key))));
    }
    default:
      return Value(
          PackedFunc(MakeObject<RemoteFunctionNode>(ObjectPtr<SessionCore>(session_), handle)));
  }
}

}  // namespace ferry::rpc
