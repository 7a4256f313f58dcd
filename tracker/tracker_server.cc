#include "tracker/tracker_server.h"

#include "rpc/router_io.h"
#include "rpc/ticket.h"
#include "util/hex.h"

namespace ferry::tracker {
namespace {

using rpc::MessageType;
using rpc::MessageWriter;

constexpr auto kTickInterval = std::chrono::milliseconds(50);

bool IsLoopbackEndpoint(const std::string& endpoint) {
  const std::string prefix = "tcp://";
  if (endpoint.rfind(prefix, 0) != 0) return false;
  const std::string host = endpoint.substr(prefix.size(), endpoint.rfind(':') - prefix.size());
  return host == "localhost" || host.rfind("127.", 0) == 0;
}

StatusOr<Tags> ReadTags(const msgpack::object& o) {
  ASSIGN_OR_RETURN(const msgpack::object* list, rpc::ReadArray(o, "tags", 0));
  Tags tags;
  for (uint32_t i = 0; i < list->via.array.size; ++i) {
    ASSIGN_OR_RETURN(const msgpack::object* pair, rpc::ReadArray(list->via.array.ptr[i], "tag", 2));
    ASSIGN_OR_RETURN(std::string name, rpc::ReadString(pair->via.array.ptr[0], "tag name"));
    ASSIGN_OR_RETURN(std::string value, rpc::ReadString(pair->via.array.ptr[1], "tag value"));
    tags[name] = value;
  }
  return tags;
}

void PackTags(msgpack::packer<msgpack::sbuffer>& p, const Tags& tags) {
  p.pack_array(static_cast<uint32_t>(tags.size()));
  for (const auto& [name, value] : tags) {
    p.pack_array(2);
    p.pack(name);
    p.pack(value);
  }
}

int64_t MsSince(TimePoint then, TimePoint now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - then).count();
}

}  // namespace

std::string ClientIdOf(const std::string& identity) { return util::HexEncode(identity); }

StatusOr<std::unique_ptr<TrackerServer>> TrackerServer::Create(TrackerConfig config) {
  config.scheduler.first_lease_id = static_cast<uint64_t>(rpc::WallClockMs()) * 1000;
  if (config.secret.size() < 16) {
    return InvalidArgumentError("the tracker needs a shared secret of at least 16 bytes");
  }
  if (!IsLoopbackEndpoint(config.listen) && !config.insecure) {
    return PermissionDeniedError("refusing to listen on non-loopback address " + config.listen +
                                 " without authentication; pass --insecure to allow it");
  }
  std::unique_ptr<TrackerServer> server(new TrackerServer(std::move(config)));
  try {
    server->socket_.set(zmq::sockopt::linger, 0);
    server->socket_.set(zmq::sockopt::maxmsgsize, int64_t{1} << 20);
    // Sending to a client that is gone fails instead of vanishing, so its grant is undone.
    server->socket_.set(zmq::sockopt::router_mandatory, 1);
    server->socket_.set(zmq::sockopt::sndhwm, 100000);
    server->socket_.set(zmq::sockopt::rcvhwm, 100000);
    server->socket_.bind(server->config_.listen);
    server->endpoint_ = server->socket_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return UnavailableError("cannot listen on " + server->config_.listen + ": " + e.what());
  }
  return server;
}

TrackerServer::TrackerServer(TrackerConfig config)
    : config_(std::move(config)),
      scheduler_(config_.scheduler),
      socket_(context_, zmq::socket_type::router) {}

Status TrackerServer::Serve(const std::atomic<bool>& stop) {
  TimePoint next_tick = Clock::now();
  while (!stop.load()) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
    zmq::poll(&item, 1, std::max(std::chrono::milliseconds(0), wait));
    // Drain what is queued before ticking, in batches.
    for (int batch = 0; batch < 1000 && (item.revents & ZMQ_POLLIN); ++batch) {
      std::optional<rpc::RoutedMessage> message = rpc::ReceiveRouted(socket_);
      if (!message) break;
      Handle(message->identity, std::move(message->frames), Clock::now());
    }
    const TimePoint now = Clock::now();
    if (now >= next_tick) {
      Deliver(scheduler_.Tick(now));
      next_tick = now + kTickInterval;
    }
  }
  return Status::Ok();
}

bool TrackerServer::Send(const std::string& identity, rpc::Frames frames) {
  std::string error;  // the peer is gone (ROUTER_MANDATORY) or its queue is full
  return rpc::SendRouted(socket_, identity, std::move(frames), &error);
}

void TrackerServer::Handle(const std::string& identity, rpc::Frames frames, TimePoint now) {
  StatusOr<rpc::ParsedMessage> parsed = rpc::ParseMessage(std::move(frames), rpc::ProtocolLimits{});
  if (!parsed.ok()) {
    Send(identity, std::move(MessageWriter::Reply(0, parsed.status(), 0)).Finish());
    return;
  }
  const rpc::ParsedMessage& m = *parsed;
  StatusOr<rpc::Frames> reply = [&]() -> StatusOr<rpc::Frames> {
    // The one catch of the tracker's request loop.
    try {
      switch (m.type) {
        case MessageType::kAgentHeartbeat:
          return Heartbeat(m, now);
        case MessageType::kAgentGoodbye: {
          RETURN_IF_ERROR(rpc::CheckBodySize(m, 1));
          ASSIGN_OR_RETURN(std::string agent_id, rpc::ReadString(m.item(0), "agent id"));
          Deliver(scheduler_.RemoveAgent(agent_id, now));
          return rpc::Frames();
        }
        case MessageType::kRequestDevice: {
          RETURN_IF_ERROR(RequestDevice(identity, m, now));
          return rpc::Frames();
        }
        case MessageType::kCancelRequest:
          return CancelRequest(identity, m);
        case MessageType::kReleaseLease: {
          RETURN_IF_ERROR(rpc::CheckBodySize(m, 1));
          ASSIGN_OR_RETURN(uint64_t lease, rpc::ReadUint(m.item(0), "lease id"));
          SchedulerEvents events;
          scheduler_.ReleaseLease(lease, now, &events);
          Deliver(events);
          return rpc::Frames();
        }
        case MessageType::kTrackerStatus:
          return StatusReport(m, now);
        default:
          return UnimplementedError("the tracker does not serve " +
                                    std::string(rpc::MessageTypeName(m.type)));
      }
    } catch (const std::exception& e) {
      return InternalError(std::string("tracker: ") + e.what());
    }
  }();
  if (!reply.ok()) {
    Send(identity, std::move(MessageWriter::Reply(m.request_id, reply.status(), 0)).Finish());
  } else if (!reply->empty()) {
    Send(identity, std::move(*reply));
  }
}

StatusOr<rpc::Frames> TrackerServer::Heartbeat(const rpc::ParsedMessage& m, TimePoint now) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 6));
  AgentInfo info;
  ASSIGN_OR_RETURN(info.agent_id, rpc::ReadString(m.item(0), "agent id"));
  ASSIGN_OR_RETURN(info.key, rpc::ReadString(m.item(1), "key"));
  ASSIGN_OR_RETURN(info.address, rpc::ReadString(m.item(2), "address"));
  ASSIGN_OR_RETURN(const msgpack::object* devices, rpc::ReadArray(m.item(3), "devices", 0));
  for (uint32_t i = 0; i < devices->via.array.size; ++i) {
    ASSIGN_OR_RETURN(const msgpack::object* d, rpc::ReadArray(devices->via.array.ptr[i], "device", 4));
    DeviceInfo device;
    ASSIGN_OR_RETURN(device.type, rpc::ReadString(d->via.array.ptr[0], "device type"));
    ASSIGN_OR_RETURN(int64_t count, rpc::ReadInt(d->via.array.ptr[1], "device count"));
    device.count = static_cast<int>(count);
    ASSIGN_OR_RETURN(device.memory, rpc::ReadUint(d->via.array.ptr[2], "device memory"));
    ASSIGN_OR_RETURN(device.name, rpc::ReadString(d->via.array.ptr[3], "device name"));
    info.devices.push_back(std::move(device));
  }
  ASSIGN_OR_RETURN(info.tags, ReadTags(m.item(4)));
  ASSIGN_OR_RETURN(std::vector<int64_t> leases, rpc::ReadIntArray(m.item(5), "active leases"));
  if (info.agent_id.empty() || info.key.empty() || info.address.empty()) {
    return InvalidArgumentError("a heartbeat needs an agent id, a key and an address");
  }
  std::vector<uint64_t> active(leases.begin(), leases.end());
  Deliver(scheduler_.Heartbeat(info, active, now));
  return rpc::Frames();  // one-way
}

Status TrackerServer::RequestDevice(const std::string& identity, const rpc::ParsedMessage& m,
                                    TimePoint now) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 4));
  RequestSpec spec;
  spec.client_id = ClientIdOf(identity);
  ASSIGN_OR_RETURN(spec.key, rpc::ReadString(m.item(0), "key"));
  ASSIGN_OR_RETURN(spec.tags, ReadTags(m.item(1)));
  ASSIGN_OR_RETURN(int64_t priority, rpc::ReadInt(m.item(2), "priority"));
  ASSIGN_OR_RETURN(uint64_t timeout_ms, rpc::ReadUint(m.item(3), "timeout"));
  spec.priority = static_cast<int>(std::clamp<int64_t>(priority, INT32_MIN, INT32_MAX));
  spec.expires = now + std::chrono::milliseconds(std::min<uint64_t>(timeout_ms, 86400000));
  SchedulerEvents events;
  ASSIGN_OR_RETURN(uint64_t id, scheduler_.Submit(std::move(spec), now, &events));
  pending_[id] = Pending{identity, m.request_id};
  Deliver(events);
  return Status::Ok();
}

StatusOr<rpc::Frames> TrackerServer::CancelRequest(const std::string& identity,
                                                   const rpc::ParsedMessage& m) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(uint64_t client_request, rpc::ReadUint(m.item(0), "request id"));
  bool cancelled = false;
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.identity == identity && it->second.client_request_id == client_request) {
      cancelled = scheduler_.Cancel(it->first);
      Send(identity, std::move(MessageWriter::Reply(client_request,
                                                    Status(StatusCode::kNotFound, "request cancelled"),
                                                    0)).Finish());
      pending_.erase(it);
      break;
    }
  }
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  w.packer().pack(cancelled);
  return std::move(w).Finish();
}

StatusOr<rpc::Frames> TrackerServer::StatusReport(const rpc::ParsedMessage& m, TimePoint now) {
  const SchedulerSummary summary = scheduler_.Summary();
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 2);
  auto& p = w.packer();
  p.pack_array(static_cast<uint32_t>(summary.agents.size()));
  for (const AgentSummary& a : summary.agents) {
    p.pack_array(10);
    p.pack(a.info.agent_id);
    p.pack(a.info.key);
    p.pack(a.info.address);
    p.pack_array(static_cast<uint32_t>(a.info.devices.size()));
    for (const DeviceInfo& d : a.info.devices) {
      p.pack_array(4);
      p.pack(d.type);
      p.pack(d.count);
      p.pack(d.memory);
      p.pack(d.name);
    }
    PackTags(p, a.info.tags);
    p.pack(a.busy);
    p.pack(a.client_id);
    p.pack(a.lease_id);
    p.pack(MsSince(a.since, now));
    p.pack(MsSince(a.last_heartbeat, now));
  }
  p.pack_array(static_cast<uint32_t>(summary.queue.size()));
  for (const QueuedRequest& q : summary.queue) {
    p.pack_array(6);
    p.pack(q.request_id);
    p.pack(q.client_id);
    p.pack(q.key);
    p.pack(q.priority);
    p.pack(MsSince(q.submitted, now));
    p.pack(-MsSince(q.expires, now));
  }
  return std::move(w).Finish();
}

void TrackerServer::Deliver(const SchedulerEvents& events) {
  for (const Grant& grant : events.grants) {
    auto it = pending_.find(grant.request_id);
    if (it == pending_.end()) continue;
    const rpc::Ticket ticket{grant.agent.agent_id, grant.client_id, grant.lease_id,
                             rpc::WallClockMs() + config_.ticket_validity.count()};
    StatusOr<std::string> signed_ticket = rpc::SignTicket(ticket, config_.secret);
    MessageWriter w = MessageWriter::Reply(
        it->second.client_request_id,
        signed_ticket.ok() ? Status::Ok() : signed_ticket.status(), 4);
    if (signed_ticket.ok()) {
      w.packer().pack(grant.agent.address);
      w.packer().pack(*signed_ticket);
      w.packer().pack(grant.lease_id);
      w.packer().pack(grant.agent.agent_id);
    }
    const std::string identity = it->second.identity;
    pending_.erase(it);
    if (!Send(identity, std::move(w).Finish())) {
      // The client left while it waited: free the agent (and drop the client's other
      // requests) at once rather than after the connect grace period.
      SchedulerEvents freed;
      scheduler_.ReleaseClient(ClientIdOf(identity), Clock::now(), &freed);
      std::erase_if(pending_, [&](const auto& entry) { return entry.second.identity == identity; });
      Deliver(freed);
    }
  }
  for (uint64_t id : events.expired_requests) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Send(it->second.identity,
         std::move(MessageWriter::Reply(
                       it->second.client_request_id,
                       DeadlineExceededError("no agent became free for the request before its timeout"),
                       0))
             .Finish());
    pending_.erase(it);
  }
}

}  // namespace ferry::tracker
