#include "rpc/tracker_client.h"

#include <algorithm>

namespace ferry::rpc {
namespace {

// Extra time the client waits beyond a request's timeout for the tracker's own expiry reply.
constexpr auto kReplyMargin = std::chrono::milliseconds(2000);
// How often a waiting call asks keep_waiting_ whether to go on.
constexpr auto kKeepWaitingInterval = std::chrono::milliseconds(100);

}  // namespace

StatusOr<TrackerClient> ConnectTracker(const std::string& endpoint, const ConnectOptions& options) {
  auto context = std::make_shared<zmq::context_t>(1);
  TrackerClient::ChannelFactory connect =
      [context, endpoint,
       channel_options = options.channel]() -> StatusOr<std::unique_ptr<Channel>> {
    ASSIGN_OR_RETURN(std::unique_ptr<ZmqChannel> channel,
                     ZmqChannel::Connect(context, endpoint, channel_options));
    return std::unique_ptr<Channel>(std::move(channel));
  };
  ASSIGN_OR_RETURN(std::unique_ptr<Channel> channel, connect());
  return TrackerClient(std::move(channel), std::move(connect), endpoint, options);
}

StatusOr<ParsedMessage> TrackerClient::CallIdempotent(
    const std::function<MessageWriter(uint64_t id)>& make, Deadline deadline, uint64_t* id) {
  return RetryUnavailable<ParsedMessage>(
      options_.retry, deadline,
      [&](int attempt) -> StatusOr<ParsedMessage> {
        if (attempt > 1) {
          // The old connection is gone for good (ZmqChannel's loss is final): a new one, to
          // the tracker that comes back at the same endpoint.
          ASSIGN_OR_RETURN(channel_, connect_());
        }
        *id = next_request_id_++;
        return Call(make(*id), *id, deadline);
      },
      [&] { return interrupted_ || (keep_waiting_ && !keep_waiting_()); });
}

StatusOr<ParsedMessage> TrackerClient::Call(MessageWriter request, uint64_t id, Deadline deadline) {
  Status sent = channel_->Send(std::move(request).Finish(), deadline);
  if (!sent.ok()) return sent.WithContext("tracker " + endpoint_);
  interrupted_ = false;
  while (true) {
    const Deadline wait_until =
        keep_waiting_ ? std::min(deadline, Clock::now() + kKeepWaitingInterval) : deadline;
    StatusOr<std::optional<Frames>> frames = channel_->Receive(wait_until);
    if (!frames.ok()) return frames.status().WithContext("tracker " + endpoint_);
    if (!frames->has_value()) {
      if (Clock::now() < deadline) {
        if (keep_waiting_()) continue;
        interrupted_ = true;
        return DeadlineExceededError("interrupted while waiting for tracker " + endpoint_);
      }
      return DeadlineExceededError("tracker " + endpoint_ + " did not answer in time");
    }
    ASSIGN_OR_RETURN(ParsedMessage reply, ParseMessage(std::move(**frames), ProtocolLimits{}));
    if (reply.request_id != id) continue;  // a late reply to an abandoned request
    if (!reply.status.ok()) return reply.status;
    return reply;
  }
}

StatusOr<RemoteSession> TrackerClient::Request(const std::string& key,
                                               const DeviceRequest& request) {
  const Deadline deadline = Clock::now() + request.timeout + kReplyMargin;
  uint64_t id = 0;
  // A request the tracker lost with its connection is asked again, for the time that is left.
  StatusOr<ParsedMessage> granted = CallIdempotent(
      [&](uint64_t request_id) {
        const auto left = std::max(std::chrono::milliseconds(0),
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - kReplyMargin - Clock::now()));
        MessageWriter w = MessageWriter::Request(MessageType::kRequestDevice, request_id,
                                                 MillisecondsUntil(deadline), 4);
        auto& p = w.packer();
        p.pack(key);
        p.pack_array(static_cast<uint32_t>(request.tags.size()));
        for (const auto& [name, value] : request.tags) {
          p.pack_array(2);
          p.pack(name);
          p.pack(value);
        }
        p.pack(request.priority);
        p.pack(static_cast<uint64_t>(left.count()));
        return w;
      },
      deadline, &id);
  if (!granted.ok()) {
    if (granted.status().code() == StatusCode::kDeadlineExceeded) {
      // Best effort: do not leave the request queued.
      MessageWriter cancel =
          MessageWriter::Request(MessageType::kCancelRequest, next_request_id_++, 1000, 1);
      cancel.packer().pack(id);
      (void)channel_->Send(std::move(cancel).Finish(), Clock::now() + std::chrono::seconds(1));
      if (interrupted_) return granted.status();
      return DeadlineExceededError("no agent with key '" + key + "' became free within " +
                                   std::to_string(request.timeout.count()) + " ms");
    }
    return granted.status();
  }
  RETURN_IF_ERROR(CheckBodySize(*granted, 4));
  ASSIGN_OR_RETURN(std::string address, ReadString(granted->item(0), "agent address"));
  ConnectOptions options = options_;
  ASSIGN_OR_RETURN(options.ticket, ReadString(granted->item(1), "ticket"));
  ASSIGN_OR_RETURN(uint64_t lease, ReadUint(granted->item(2), "lease id"));
  ASSIGN_OR_RETURN(std::string agent_id, ReadString(granted->item(3), "agent id"));
  std::string agent_key;  // a tracker before the 5th item names no key
  if (granted->body_size() >= 5) {
    ASSIGN_OR_RETURN(agent_key, ReadString(granted->item(4), "agent public key"));
  }
  StatusOr<RemoteSession> session = [&]() -> StatusOr<RemoteSession> {
    if (options.channel.curve_identity) {
      if (agent_key.empty()) {
        return PermissionDeniedError("the tracker names no public key for agent " + agent_id +
                                     " (" + address + "), and this client uses CURVE");
      }
      options.channel.curve_server_key = agent_key;
    }
    return Connect(address, options);
  }();
  if (!session.ok()) {
    MessageWriter release =
        MessageWriter::Request(MessageType::kReleaseLease, next_request_id_++, 1000, 1);
    release.packer().pack(lease);
    (void)channel_->Send(std::move(release).Finish(), Clock::now() + std::chrono::seconds(1));
    return session.status().WithContext("agent " + address + " granted by the tracker");
  }
  return session;
}

Status TrackerClient::RequestAndRun(const std::string& key, const DeviceRequest& request,
                                    const std::function<Status(RemoteSession&)>& fn,
                                    int max_attempts) {
  Status last = UnavailableError("no attempt was made");
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    StatusOr<RemoteSession> session = Request(key, request);
    if (!session.ok()) {
      last = session.status();
      if (last.code() != StatusCode::kUnavailable) return last;
      continue;
    }
    last = fn(*session);
    if (last.code() != StatusCode::kUnavailable) return last;
  }
  return last.WithContext("after " + std::to_string(max_attempts) + " attempts");
}

StatusOr<TrackerStatus> TrackerClient::GetStatus() {
  const Deadline deadline = Clock::now() + options_.timeout;
  uint64_t id = 0;
  ASSIGN_OR_RETURN(ParsedMessage reply, CallIdempotent(
                                            [&](uint64_t request_id) {
                                              return MessageWriter::Request(
                                                  MessageType::kTrackerStatus, request_id,
                                                  MillisecondsUntil(deadline), 0);
                                            },
                                            deadline, &id));
  RETURN_IF_ERROR(CheckBodySize(reply, 2));
  TrackerStatus status;
  ASSIGN_OR_RETURN(const msgpack::object* agents, ReadArray(reply.item(0), "agents", 0));
  for (uint32_t i = 0; i < agents->via.array.size; ++i) {
    ASSIGN_OR_RETURN(const msgpack::object* a, ReadArray(agents->via.array.ptr[i], "agent", 10));
    const msgpack::object* f = a->via.array.ptr;
    TrackerAgentStatus s;
    ASSIGN_OR_RETURN(s.agent_id, ReadString(f[0], "agent id"));
    ASSIGN_OR_RETURN(s.key, ReadString(f[1], "key"));
    ASSIGN_OR_RETURN(s.address, ReadString(f[2], "address"));
    ASSIGN_OR_RETURN(const msgpack::object* devices, ReadArray(f[3], "devices", 0));
    for (uint32_t d = 0; d < devices->via.array.size; ++d) {
      ASSIGN_OR_RETURN(const msgpack::object* dev,
                       ReadArray(devices->via.array.ptr[d], "device", 4));
      TrackerAgentStatus::Device device;
      ASSIGN_OR_RETURN(device.type, ReadString(dev->via.array.ptr[0], "type"));
      ASSIGN_OR_RETURN(int64_t count, ReadInt(dev->via.array.ptr[1], "count"));
      device.count = static_cast<int>(count);
      ASSIGN_OR_RETURN(device.memory, ReadUint(dev->via.array.ptr[2], "memory"));
      ASSIGN_OR_RETURN(device.name, ReadString(dev->via.array.ptr[3], "name"));
      s.devices.push_back(std::move(device));
    }
    ASSIGN_OR_RETURN(const msgpack::object* tags, ReadArray(f[4], "tags", 0));
    for (uint32_t t = 0; t < tags->via.array.size; ++t) {
      ASSIGN_OR_RETURN(const msgpack::object* tag, ReadArray(tags->via.array.ptr[t], "tag", 2));
      ASSIGN_OR_RETURN(std::string name, ReadString(tag->via.array.ptr[0], "tag"));
      ASSIGN_OR_RETURN(s.tags[name], ReadString(tag->via.array.ptr[1], "tag"));
    }
    ASSIGN_OR_RETURN(s.busy, ReadBool(f[5], "busy"));
    ASSIGN_OR_RETURN(s.client_id, ReadString(f[6], "client"));
    ASSIGN_OR_RETURN(s.lease_id, ReadUint(f[7], "lease"));
    ASSIGN_OR_RETURN(s.since_ms, ReadInt(f[8], "since"));
    ASSIGN_OR_RETURN(s.last_heartbeat_ms, ReadInt(f[9], "heartbeat"));
    status.agents.push_back(std::move(s));
  }
  ASSIGN_OR_RETURN(const msgpack::object* queue, ReadArray(reply.item(1), "queue", 0));
  for (uint32_t i = 0; i < queue->via.array.size; ++i) {
    ASSIGN_OR_RETURN(const msgpack::object* q, ReadArray(queue->via.array.ptr[i], "request", 6));
    const msgpack::object* f = q->via.array.ptr;
    TrackerQueueEntry e;
    ASSIGN_OR_RETURN(e.request_id, ReadUint(f[0], "request"));
    ASSIGN_OR_RETURN(e.client_id, ReadString(f[1], "client"));
    ASSIGN_OR_RETURN(e.key, ReadString(f[2], "key"));
    ASSIGN_OR_RETURN(int64_t priority, ReadInt(f[3], "priority"));
    e.priority = static_cast<int>(priority);
    ASSIGN_OR_RETURN(e.waited_ms, ReadInt(f[4], "waited"));
    ASSIGN_OR_RETURN(e.expires_in_ms, ReadInt(f[5], "expires"));
    status.queue.push_back(std::move(e));
  }
  return status;
}

}  // namespace ferry::rpc
