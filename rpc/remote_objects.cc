#include "rpc/remote_objects.h"

#include <cstring>

#include "rpc/chunk_stream.h"
#include "rpc/frame_loan.h"
#include "rpc/value_codec.h"

namespace ferry::rpc {
namespace {

// Packs a call's function handle and arguments (two items). An argument that cannot be sent
// is reported in `failed` (the first one) and replaced by a handle no session has (0), so
// that the message stays well formed and the session refuses the call instead of running it.
void PackCall(const ClientValueCodec& codec, MessageWriter& w, uint64_t handle,
              std::span<const Value> args, Status& failed) {
  w.packer().pack(handle);
  w.packer().pack_array(static_cast<uint32_t>(args.size()));
  for (const Value& arg : args) {
    Status packed = codec.PackArgument(w, arg);
    if (packed.ok()) continue;
    if (failed.ok()) failed = packed;
    w.packer().pack_array(2);
    w.packer().pack(static_cast<uint8_t>(WireKind::kFunction));
    w.packer().pack(0);
  }
}

}  // namespace

StatusOr<Value> RemoteFunctionNode::Call(std::span<const Value> args) const {
  SessionEndpoint& endpoint = core_->endpoint();
  ClientValueCodec& codec = core_->codec();
  // Large host arrays go ahead in chunks; the call refers to their remote copies.
  ASSIGN_OR_RETURN(std::vector<Value> staged, codec.StageArguments(args));
  const std::span<const Value> sent = staged.empty() ? args : std::span<const Value>(staged);
  const uint64_t inline_bytes = codec.inline_result_bytes();
  Status pack_status;
  auto lock = endpoint.Lock();
  ASSIGN_OR_RETURN(
      uint64_t id,
      endpoint.Send(MessageType::kCallFunction, inline_bytes > 0 ? 3 : 2, [&](MessageWriter& w) {
        PackCall(codec, w, handle_, sent, pack_status);
        if (inline_bytes > 0) w.packer().pack(inline_bytes);
      }));
  // The reply is awaited even after a packing error, to keep replies and requests in step;
  // that error (the session refused the call) is the one to report.
  StatusOr<ParsedMessage> reply = endpoint.Await(id);
  RETURN_IF_ERROR(pack_status);
  if (!reply.ok()) return reply.status();
  RETURN_IF_ERROR(CheckBodySize(*reply, 1));
  // Still under the lock: an inline result is valid until the next request.
  return codec.ReadResult(reply->item(0), *reply, /*accept_inline=*/true);
}

StatusOr<std::vector<Value>> CallSequence(SessionCore& core, std::span<const RemoteCall> calls) {
  if (calls.size() > kMaxSequenceCalls) {
    return InvalidArgumentError("a call sequence of " + std::to_string(calls.size()) +
                                " calls exceeds the limit of " +
                                std::to_string(kMaxSequenceCalls));
  }
  SessionEndpoint& endpoint = core.endpoint();
  ClientValueCodec& codec = core.codec();
  std::vector<uint64_t> handles;
  std::vector<std::vector<Value>> staged(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    auto* remote = dynamic_cast<RemoteFunctionNode*>(calls[i].function.get());
    if (remote == nullptr || remote->core() != &core) {
      return InvalidArgumentError("call " + std::to_string(i + 1) +
                                  " of the sequence: its function is not one of this session's");
    }
    handles.push_back(remote->handle());
    ASSIGN_OR_RETURN(staged[i], codec.StageArguments(calls[i].args));
  }
  Status pack_status;
  auto lock = endpoint.Lock();
  ASSIGN_OR_RETURN(uint64_t id, endpoint.Send(MessageType::kCallSequence, 2, [&](MessageWriter& w) {
    w.packer().pack_array(static_cast<uint32_t>(calls.size()));
    for (size_t i = 0; i < calls.size(); ++i) {
      w.packer().pack_array(2);
      PackCall(codec, w, handles[i], staged[i].empty() ? calls[i].args : staged[i], pack_status);
    }
    w.packer().pack(codec.inline_result_bytes());
  }));
  StatusOr<ParsedMessage> reply = endpoint.Await(id);  // as in RemoteFunctionNode::Call
  RETURN_IF_ERROR(pack_status);
  if (!reply.ok()) return reply.status();
  RETURN_IF_ERROR(CheckBodySize(*reply, 1));
  ASSIGN_OR_RETURN(const msgpack::object* encoded, ReadArray(reply->item(0), "results", 0));
  if (encoded->via.array.size != calls.size()) {
    return InvalidArgumentError("the session answered a sequence of " +
                                std::to_string(calls.size()) + " calls with " +
                                std::to_string(encoded->via.array.size) + " results");
  }
  std::vector<Value> results;
  for (uint32_t i = 0; i < encoded->via.array.size; ++i) {
    // Still under the lock: inline results are valid until the next request.
    ASSIGN_OR_RETURN(Value result,
                     codec.ReadResult(encoded->via.array.ptr[i], *reply, /*accept_inline=*/true));
    results.push_back(std::move(result));
  }
  return results;
}

std::optional<PackedFunc> RemoteModuleNode::GetFunction(const std::string& name) {
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(name); it != cache_.end()) return it->second;
  }
  StatusOr<ParsedMessage> reply =
      core_->endpoint().Call(MessageType::kGetModuleFunction, 2, [&](MessageWriter& w) {
        w.packer().pack(handle_);
        w.packer().pack(name);
      });
  StatusOr<Value> result = [&]() -> StatusOr<Value> {
    if (!reply.ok()) return reply.status();
    RETURN_IF_ERROR(CheckBodySize(*reply, 1));
    return core_->codec().ReadResult(reply->item(0), *reply);
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
  core_->endpoint().Release(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ptr)));
}

Status RemoteDeviceApi::Copy(const void* from, Device from_device, void* to, Device to_device,
                             size_t bytes) {
  const auto handle_of = [](const void* p) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
  };
  if (from_device.is_remote() && to_device.is_remote()) {
    return core_->endpoint()
        .Call(MessageType::kCopyRemoteToRemote, 2,
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
  SessionEndpoint& endpoint = core_->endpoint();
  // The chunks' frames refer to the caller's buffer (no copy); the copy returns only once
  // ZeroMQ has let go of every one of them, also after a failure.
  FrameLoan loan;
  auto lock = endpoint.Lock();
  ChunkSizer sizer(endpoint.chunk_bytes_to_remote());
  Status status = StreamChunks(
      0, bytes, sizer,
      {
          .send =
              [&](uint64_t offset, size_t size) {
                return endpoint.Send(MessageType::kCopyToRemote, 2, [&](MessageWriter& w) {
                  w.packer().pack(handle);
                  w.packer().pack(offset);
                  w.AddFrame(loan.Frame(from + offset, size));
                });
              },
          .receive = [&](const ChunkInFlight& chunk) { return endpoint.Await(chunk.id).status(); },
      });
  return FinishLoan(endpoint, loan, std::move(status));
}

Status RemoteDeviceApi::CopyFromRemote(uint64_t handle, char* to, size_t bytes) {
  SessionEndpoint& endpoint = core_->endpoint();
  auto lock = endpoint.Lock();
  // A small result that came inline with its call (and has not changed since) is here already.
  if (core_->codec().CopyInlineResult(handle, to, bytes)) return Status::Ok();
  ChunkSizer sizer(endpoint.chunk_bytes_to_host());
  return StreamChunks(
      0, bytes, sizer,
      {
          .send =
              [&](uint64_t offset, size_t size) {
                return endpoint.Send(MessageType::kCopyFromRemote, 3, [&](MessageWriter& w) {
                  w.packer().pack(handle);
                  w.packer().pack(offset);
                  w.packer().pack(static_cast<uint64_t>(size));
                });
              },
          .receive = [&](const ChunkInFlight& chunk) -> Status {
            // On the bulk path the chunk is opened straight into place; otherwise it is copied
            // out of the frame ZeroMQ received it in.
            char* place = to + chunk.offset;
            ASSIGN_OR_RETURN(ParsedMessage reply,
                             endpoint.Await(chunk.id, std::span(place, chunk.size)));
            ASSIGN_OR_RETURN(const zmq::message_t* frame, reply.Frame(1));
            if (frame->size() != chunk.size) {
              return InternalError("remote copy returned " + std::to_string(frame->size()) +
                                   " bytes instead of " + std::to_string(chunk.size));
            }
            if (frame->data() != place) std::memcpy(place, frame->data(), chunk.size);
            return Status::Ok();
          },
      });
}

Status RemoteDeviceApi::Synchronize(Device device) {
  return core_->endpoint()
      .Call(MessageType::kStreamSync, 1,
            [&](MessageWriter& w) { PackDevice(w.packer(), device.Local()); })
      .status();
}

DeviceAttributes RemoteDeviceApi::GetAttributes(Device device) {
  DeviceAttributes attrs;
  StatusOr<ParsedMessage> reply =
      core_->endpoint().Call(MessageType::kDeviceAttributes, 1,
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
