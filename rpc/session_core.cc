#include "rpc/session_core.h"

#include <algorithm>
#include <cstring>

#include "rpc/remote_objects.h"
#include "rpc/sealed_channel.h"
#include "rpc/value_codec.h"

namespace ferry::rpc {
namespace {

constexpr auto kDiagnoseTimeout = std::chrono::milliseconds(2000);
constexpr auto kCloseTimeout = std::chrono::milliseconds(1000);

}  // namespace

SessionCore::SessionCore(std::unique_ptr<Channel> worker, std::unique_ptr<Channel> agent,
                         std::string session_id, std::chrono::milliseconds timeout,
                         std::unique_ptr<SealedChannel> bulk)
    : worker_(std::move(worker)),
      agent_(std::move(agent)),
      bulk_(std::move(bulk)),
      session_id_(std::move(session_id)),
      timeout_(timeout),
      device_api_(std::make_unique<RemoteDeviceApi>(this)) {}

SessionCore::~SessionCore() { (void)Close(); }

void SessionCore::Release(uint64_t handle) {
  std::lock_guard lock(release_mutex_);
  pending_releases_.push_back(handle);
}

Status SessionCore::FlushReleases(Deadline deadline) {
  std::vector<uint64_t> releases;
  {
    std::lock_guard lock(release_mutex_);
    releases.swap(pending_releases_);
  }
  if (releases.empty()) return Status::Ok();
  MessageWriter w = MessageWriter::Request(MessageType::kReleaseHandles, next_request_id_++,
                                           MillisecondsUntil(deadline), 1);
  w.packer().pack(releases);
  return worker_->Send(std::move(w).Finish(), deadline);
}

StatusOr<uint64_t> SessionCore::Send(MessageType type, uint32_t body_size, const PackBody& pack) {
  if (!lost_.ok()) return lost_;
  if (closed_) return UnavailableError("the session is closed");
  const Deadline deadline = Clock::now() + timeout_;
  Status flushed = FlushReleases(deadline);
  if (!flushed.ok()) return flushed;
  // Any request may change any array, so an inline result is stale from here on.
  ++requests_sent_;
  inline_result_.reset();
  const uint64_t id = next_request_id_++;
  MessageWriter w = MessageWriter::Request(type, id, MillisecondsUntil(deadline), body_size);
  pack(w);
  const bool on_bulk = bulk_ != nullptr && IsBulkMessageType(type);
  Status sent = (on_bulk ? *bulk_ : *worker_).Send(std::move(w).Finish(), deadline);
  if (sent.code() == StatusCode::kUnavailable) return DiagnoseLostWorker(sent);
  RETURN_IF_ERROR(sent);
  if (on_bulk) bulk_ids_.insert(id);
  return id;
}

StatusOr<ParsedMessage> SessionCore::Await(uint64_t request_id, std::span<char> payload_into) {
  if (!lost_.ok()) return lost_;
  const Deadline deadline = Clock::now() + timeout_;
  Channel* channel = worker_.get();
  if (auto it = bulk_ids_.find(request_id); it != bulk_ids_.end()) {
    // Earlier bulk requests whose replies were never awaited are skipped below.
    bulk_ids_.erase(bulk_ids_.begin(), std::next(it));
    channel = bulk_.get();
  }
  const bool open_into = channel == bulk_.get() && !payload_into.empty();
  while (true) {
    StatusOr<std::optional<Frames>> received =
        open_into ? bulk_->ReceiveInto(deadline, {.index = 1, .bytes = payload_into})
                  : channel->Receive(deadline);
    if (!received.ok()) {
      // A bulk reply that does not open is not a lost worker.
      if (channel == bulk_.get() && received.status().code() != StatusCode::kUnavailable) {
        return received.status();
      }
      return DiagnoseLostWorker(received.status());
    }
    if (!received->has_value()) {
      return DeadlineExceededError("no reply from session " + session_id_ + " within " +
                                   std::to_string(timeout_.count()) + " ms");
    }
    StatusOr<ParsedMessage> reply = ParseMessage(std::move(**received), ProtocolLimits{});
    if (!reply.ok()) return reply.status().WithContext("reply from session " + session_id_);
    if (reply->type != MessageType::kReply) {
      return InvalidArgumentError("session " + session_id_ + " sent a request to the client");
    }
    // A reply to an earlier request that timed out, or id 0: a message the server could not
    // parse (its error is ours).
    if (reply->request_id == 0) return reply->status;
    if (reply->request_id < request_id) continue;
    if (reply->request_id != request_id) {
      return InternalError("reply " + std::to_string(reply->request_id) + " arrived while waiting for " +
                           std::to_string(request_id));
    }
    if (!reply->status.ok()) return reply->status;
    return reply;
  }
}

StatusOr<ParsedMessage> SessionCore::Call(MessageType type, uint32_t body_size,
                                          const PackBody& pack) {
  auto lock = Lock();
  ASSIGN_OR_RETURN(uint64_t id, Send(type, body_size, pack));
  return Await(id);
}

Status SessionCore::DiagnoseLostWorker(const Status& lost) {
  if (!lost_.ok()) return lost_;
  std::string reason = "connection to the session worker lost (" + lost.message() + ")";
  if (agent_ != nullptr) {
    const Deadline deadline = Clock::now() + kDiagnoseTimeout;
    MessageWriter w = MessageWriter::Request(MessageType::kSessionStatus, 1,
                                             MillisecondsUntil(deadline), 1);
    w.packer().pack(session_id_);
    Status sent = agent_->Send(std::move(w).Finish(), deadline);
    StatusOr<std::optional<Frames>> answer =
        sent.ok() ? agent_->Receive(deadline) : StatusOr<std::optional<Frames>>(sent);
    if (answer.ok() && answer->has_value()) {
      StatusOr<ParsedMessage> parsed = ParseMessage(std::move(**answer), ProtocolLimits{});
      if (parsed.ok() && parsed->status.ok() && parsed->body_size() >= 2) {
        const bool alive = ReadBool(parsed->item(0), "alive").value_or(true);
        const std::string why = ReadString(parsed->item(1), "reason").value_or("");
        if (!alive && !why.empty()) reason = why;
      }
    } else {
      reason += "; the agent does not answer either";
    }
  }
  lost_ = UnavailableError(reason);
  return lost_;
}

Status SessionCore::Abandon(const std::string& why) {
  if (lost_.ok()) lost_ = UnavailableError(why);
  // Closing the sockets (linger 0) makes ZeroMQ drop whatever it still queues for them.
  bulk_.reset();
  worker_.reset();
  bulk_ids_.clear();
  inline_result_.reset();
  return lost_;
}

Status SessionCore::Close() {
  auto lock = Lock();
  if (closed_ || !lost_.ok()) {
    closed_ = true;
    return Status::Ok();
  }
  const auto saved = timeout_;
  timeout_ = std::min(timeout_, std::chrono::milliseconds(kCloseTimeout));
  StatusOr<uint64_t> id = Send(MessageType::kCloseSession, 0, [](MessageWriter&) {});
  Status status = id.ok() ? Await(*id).status() : id.status();
  // The worker exits right after its reply; when the connection drops first, ZeroMQ may
  // discard the reply. The session has ended either way, which is what Close asked for.
  if (id.ok() && status.code() == StatusCode::kUnavailable) status = Status::Ok();
  timeout_ = saved;
  closed_ = true;
  return status;
}

Status SessionCore::PackArgument(MessageWriter& w, const Value& value) {
  if (value.kind() == Value::Kind::kDevice) {
    // The session knows its devices without the client's remote mask.
    const Device device = value.As<Device>().value();
    PackPlainValue(w, Value(device.Local()));
    return Status::Ok();
  }
  if (PackPlainValue(w, value)) return Status::Ok();
  auto& p = w.packer();
  auto foreign = [](std::string_view what) {
    return InvalidArgumentError(std::string(what) +
                                " does not belong to this session and cannot be sent to it");
  };
  switch (value.kind()) {
    case Value::Kind::kNDArray: {
      NDArray array = value.As<NDArray>().value();
      if (array.is_null()) return InvalidArgumentError("a null array cannot be sent");
      if (array.device().is_remote()) {
        if (array.device_api() != device_api_.get()) return foreign("the array");
        p.pack_array(2);
        p.pack(static_cast<uint8_t>(WireKind::kRemoteArray));
        p.pack(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(array.data())));
        return Status::Ok();
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
      if (remote == nullptr || remote->core() != this) return foreign("the module");
      p.pack_array(2);
      p.pack(static_cast<uint8_t>(WireKind::kModule));
      p.pack(remote->handle());
      return Status::Ok();
    }
    default: {
      PackedFunc func = value.As<PackedFunc>().value();
      auto* remote = dynamic_cast<RemoteFunctionNode*>(func.get());
      if (remote == nullptr || remote->core() != this) return foreign("the function");
      p.pack_array(2);
      p.pack(static_cast<uint8_t>(WireKind::kFunction));
      p.pack(remote->handle());
      return Status::Ok();
    }
  }
}

StatusOr<std::vector<Value>> SessionCore::StageArguments(std::span<const Value> args) {
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

StatusOr<NDArray> SessionCore::AllocArray(const std::vector<int64_t>& shape, DataType dtype,
                                          Device device) {
  ASSIGN_OR_RETURN(ParsedMessage reply, Call(MessageType::kAllocArray, 3, [&](MessageWriter& w) {
                     PackShape(w.packer(), shape);
                     PackDataType(w.packer(), dtype);
                     PackDevice(w.packer(), device.Local());
                   }));
  RETURN_IF_ERROR(CheckBodySize(reply, 1));
  ASSIGN_OR_RETURN(Value array, ReadResult(reply.item(0), reply));
  return array.As<NDArray>();
}

bool SessionCore::CopyInlineResult(uint64_t handle, void* to, size_t bytes) {
  if (!inline_result_ || inline_result_->handle != handle ||
      inline_result_->after_request != requests_sent_ || bytes > inline_result_->bytes.size()) {
    return false;
  }
  if (bytes != 0) std::memcpy(to, inline_result_->bytes.data(), bytes);
  return true;
}

NDArray SessionCore::MakeRemoteArray(uint64_t handle, std::vector<int64_t> shape, DataType dtype,
                                     Device remote_device) {
  return NDArray::Adopt(reinterpret_cast<void*>(static_cast<uintptr_t>(handle)), std::move(shape),
                        dtype, remote_device, device_api_.get(), ObjectPtr<Object>(this));
}

StatusOr<Value> SessionCore::ReadResult(const msgpack::object& encoded,
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
        inline_result_ = InlineResult{handle, requests_sent_, ShareFrame(*frame)};
      }
      return Value(std::move(array));
    }
    case WireKind::kModule: {
      std::string type_key = size >= 3 ? ReadString(items[2], "type key").value_or("") : "";
      return Value(Module(MakeObject<RemoteModuleNode>(ObjectPtr<SessionCore>(this), handle,
                                                       std::move(type_key))));
    }
    default:
      return Value(PackedFunc(MakeObject<RemoteFunctionNode>(ObjectPtr<SessionCore>(this), handle)));
  }
}

}  // namespace ferry::rpc
