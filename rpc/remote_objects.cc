#include "rpc/remote_objects.h"

#include <cstring>
#include <deque>

#include "rpc/sealed_channel.h"

namespace ferry::rpc {

StatusOr<Value> RemoteFunctionNode::Call(std::span<const Value> args) const {
  Status pack_status;
  ASSIGN_OR_RETURN(ParsedMessage reply,
                   core_->Call(MessageType::kCallFunction, 2, [&](MessageWriter& w) {
                     w.packer().pack(handle_);
                     w.packer().pack_array(static_cast<uint32_t>(args.size()));
                     for (const Value& arg : args) {
                       Status s = core_->PackArgument(w, arg);
                       if (!s.ok() && pack_status.ok()) {
                         pack_status = s;
                         w.packer().pack_array(1);  // keep the message well formed
                         w.packer().pack(0);
                       }
                     }
                   }));
  RETURN_IF_ERROR(pack_status);
  RETURN_IF_ERROR(CheckBodySize(reply, 1));
  return core_->ReadResult(reply.item(0), reply);
}

std::optional<PackedFunc> RemoteModuleNode::GetFunction(const std::string& name) {
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(name); it != cache_.end()) return it->second;
  }
  StatusOr<ParsedMessage> reply =
      core_->Call(MessageType::kGetModuleFunction, 2, [&](MessageWriter& w) {
        w.packer().pack(handle_);
        w.packer().pack(name);
      });
  StatusOr<Value> result = [&]() -> StatusOr<Value> {
    if (!reply.ok()) return reply.status();
    RETURN_IF_ERROR(CheckBodySize(*reply, 1));
    return core_->ReadResult(reply->item(0), *reply);
  }();
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kNotFound) return std::nullopt;
    Status failure = result.status();
    return PackedFunc([failure](std::span<const Value>) -> StatusOr<Value> { return failure; });
  }
  StatusOr<PackedFunc> func = result->As<PackedFunc>();
  if (!func.ok()) return std::nullopt;
  std::lock_guard lock(cache_mutex_);
  cache_.emplace(name, *func);
  return *func;
}

StatusOr<void*> RemoteDeviceApi::Allocate(Device device, size_t, size_t) {
  return UnimplementedError("arrays on " + device.ToString() +
                            " are created with RemoteSession::Empty");
}

void RemoteDeviceApi::Free(Device, void* ptr) {
  core_->Release(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ptr)));
}

Status RemoteDeviceApi::Copy(const void* from, Device from_device, void* to, Device to_device,
                             size_t bytes) {
  const auto handle_of = [](const void* p) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
  };
  if (from_device.is_remote() && to_device.is_remote()) {
    return core_
        ->Call(MessageType::kCopyRemoteToRemote, 2,
               [&](MessageWriter& w) {
                 w.packer().pack(handle_of(from));
                 w.packer().pack(handle_of(to));
               })
        .status();
  }
  if (to_device.is_remote()) {
    if (from_device.type != kDLCPU) return UnimplementedError("copy to a remote array from a non-CPU array");
    return CopyToRemote(static_cast<const char*>(from), handle_of(to), bytes);
  }
  if (to_device.type != kDLCPU) return UnimplementedError("copy from a remote array to a non-CPU array");
  return CopyFromRemote(handle_of(from), static_cast<char*>(to), bytes);
}

Status RemoteDeviceApi::CopyToRemote(const char* from, uint64_t handle, size_t bytes) {
  auto lock = core_->Lock();
  std::deque<uint64_t> in_flight;
  for (size_t offset = 0; offset < bytes; offset += kChunkBytes) {
    const size_t size = std::min(kChunkBytes, bytes - offset);
    // Each chunk is copied into its frame: ZeroMQ may read a frame after a failed call has
    // returned, when the caller's buffer may be gone. On the bulk path the chunk is sealed
    // (read whole) before Send returns, so the frame may refer to the caller's buffer.
    const std::string_view chunk(from + offset, size);
    StatusOr<uint64_t> id = core_->Send(MessageType::kCopyToRemote, 2, [&](MessageWriter& w) {
      w.packer().pack(handle);
      w.packer().pack(static_cast<uint64_t>(offset));
      w.AddFrame(core_->has_bulk_path() ? ViewFrame(chunk) : CopyFrame(chunk));
    });
    if (!id.ok()) return id.status();
    in_flight.push_back(*id);
    if (in_flight.size() >= static_cast<size_t>(kCopyWindow)) {
      RETURN_IF_ERROR(core_->Await(in_flight.front()).status());
      in_flight.pop_front();
    }
  }
  for (uint64_t id : in_flight) RETURN_IF_ERROR(core_->Await(id).status());
  return Status::Ok();
}

Status RemoteDeviceApi::CopyFromRemote(uint64_t handle, char* to, size_t bytes) {
  auto lock = core_->Lock();
  struct Pending {
    uint64_t id;
    size_t offset;
    size_t size;
  };
  std::deque<Pending> in_flight;
  auto receive = [&](const Pending& p) -> Status {
    // On the bulk path the chunk is opened straight into place.
    ASSIGN_OR_RETURN(ParsedMessage reply, core_->Await(p.id, std::span(to + p.offset, p.size)));
    ASSIGN_OR_RETURN(const zmq::message_t* frame, reply.Frame(1));
    if (frame->size() != p.size) {
      return InternalError("remote copy returned " + std::to_string(frame->size()) +
                           " bytes instead of " + std::to_string(p.size));
    }
    if (frame->data() != to + p.offset) std::memcpy(to + p.offset, frame->data(), p.size);
    return Status::Ok();
  };
  for (size_t offset = 0; offset < bytes; offset += kChunkBytes) {
    const size_t size = std::min(kChunkBytes, bytes - offset);
    ASSIGN_OR_RETURN(uint64_t id, core_->Send(MessageType::kCopyFromRemote, 3, [&](MessageWriter& w) {
      w.packer().pack(handle);
      w.packer().pack(static_cast<uint64_t>(offset));
      w.packer().pack(static_cast<uint64_t>(size));
    }));
    in_flight.push_back({id, offset, size});
    if (in_flight.size() >= static_cast<size_t>(kCopyWindow)) {
      RETURN_IF_ERROR(receive(in_flight.front()));
      in_flight.pop_front();
    }
  }
  for (const Pending& p : in_flight) RETURN_IF_ERROR(receive(p));
  return Status::Ok();
}

Status RemoteDeviceApi::Synchronize(Device device) {
  return core_
      ->Call(MessageType::kStreamSync, 1,
             [&](MessageWriter& w) { PackDevice(w.packer(), device.Local()); })
      .status();
}

DeviceAttributes RemoteDeviceApi::GetAttributes(Device device) {
  DeviceAttributes attrs;
  StatusOr<ParsedMessage> reply = core_->Call(
      MessageType::kDeviceAttributes, 1,
      [&](MessageWriter& w) { PackDevice(w.packer(), device.Local()); });
  if (!reply.ok() || reply->body_size() < 5) return attrs;
  attrs.exists = ReadBool(reply->item(0), "exists").value_or(false);
  attrs.name = ReadString(reply->item(1), "name").value_or("");
  attrs.total_memory = ReadUint(reply->item(2), "memory").value_or(0);
  attrs.compute_units = static_cast<int>(ReadInt(reply->item(3), "units").value_or(0));
  attrs.compute_version = ReadString(reply->item(4), "version").value_or("");
  return attrs;
}

}  // namespace ferry::rpc
