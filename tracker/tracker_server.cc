#include "tracker/tracker_server.h"

#include <openssl/rand.h>

#include <cerrno>

#include "rpc/agent_heartbeat.h"
#include "rpc/ticket.h"
#include "util/event_log.h"

namespace ferry::tracker {
namespace {

using rpc::MessageType;
using rpc::MessageWriter;

constexpr auto kTickInterval = std::chrono::milliseconds(50);
constexpr const char* kZapDomain = "ferry-tracker";

bool IsLoopbackEndpoint(const std::string& endpoint) {
  const std::string prefix = "tcp://";
  if (endpoint.rfind(prefix, 0) != 0) return false;
  const std::string host = endpoint.substr(prefix.size(), endpoint.rfind(':') - prefix.size());
  return host == "localhost" || host.rfind("127.", 0) == 0;
}

bool IsOneWay(MessageType type) {
  return type == MessageType::kAgentHeartbeat || type == MessageType::kAgentGoodbye ||
         type == MessageType::kReleaseLease;
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

// A peer as the log names it: its key's fingerprint under CURVE, else "plaintext".
std::string PeerName(const std::string& peer_key) {
  return peer_key.empty() ? "plaintext" : rpc::KeyFingerprint(peer_key);
}

AgentInfo ToAgentInfo(rpc::AgentHeartbeat heartbeat) {
  AgentInfo info;
  info.agent_id = std::move(heartbeat.agent_id);
  info.key = std::move(heartbeat.key);
  info.address = std::move(heartbeat.address);
  for (rpc::AgentDevice& d : heartbeat.devices) {
    info.devices.push_back(DeviceInfo{std::move(d.type), d.count, d.memory, std::move(d.name)});
  }
  info.tags = std::move(heartbeat.tags);
  info.public_key = std::move(heartbeat.public_key);
  return info;
}

}  // namespace

StatusOr<std::unique_ptr<TrackerServer>> TrackerServer::Create(TrackerConfig config) {
  config.scheduler.first_lease_id = static_cast<uint64_t>(rpc::WallClockMs()) * 1000;
  if (config.secret.size() < 16) {
    return InvalidArgumentError("the tracker needs a shared secret of at least 16 bytes");
  }
  if (!IsLoopbackEndpoint(config.listen) && !config.insecure && !config.identity) {
    return PermissionDeniedError("refusing to listen on non-loopback address " + config.listen +
                                 " without authentication; give the tracker an identity "
                                 "(--identity) or pass --insecure to allow it");
  }
  std::unique_ptr<TrackerServer> server(new TrackerServer(std::move(config)));
  server->client_id_key_.assign(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(server->client_id_key_.data()), 32) != 1) {
    return InternalError("the system random generator failed");
  }
  if (server->config_.identity) {
    ASSIGN_OR_RETURN(server->zap_,
                     rpc::ZapHandler::Start(server->context_, [](const std::string& domain,
                                                                 const std::string& fingerprint,
                                                                 const std::string& address) {
                       util::LogEvent("peer_refused", {{"domain", domain},
                                                        {"key", fingerprint},
                                                        {"address", address}});
                     }));
    rpc::AuthorizedKeys admitted = server->config_.agent_keys;
    admitted.insert(server->config_.client_keys.begin(), server->config_.client_keys.end());
    server->zap_->Allow(kZapDomain, std::move(admitted));
  }
  try {
    server->socket_.set(zmq::sockopt::linger, 0);
    server->socket_.set(zmq::sockopt::maxmsgsize, int64_t{1} << 20);
    // Sending to a client that is gone fails instead of vanishing, so its grant is undone.
    server->socket_.set(zmq::sockopt::router_mandatory, 1);
    server->socket_.set(zmq::sockopt::sndhwm, 100000);
    server->socket_.set(zmq::sockopt::rcvhwm, 100000);
    if (server->config_.identity) {
      rpc::ApplyServerCurve(server->socket_, server->config_.identity->secret_key, kZapDomain);
    }
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
      replay_guard_(config_.agent_clock_window),
      socket_(context_, zmq::socket_type::router) {}

TrackerServer::~TrackerServer() = default;

Status TrackerServer::Serve(const std::atomic<bool>& stop) {
  TimePoint next_tick = Clock::now();
  while (!stop.load()) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
    try {
      zmq::poll(&item, 1, std::max(std::chrono::milliseconds(0), wait));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal: look at `stop` again
    }
    // Drain what is queued before ticking, in batches.
    for (int batch = 0; batch < 1000 && (item.revents & ZMQ_POLLIN); ++batch) {
      std::optional<rpc::RoutedMessage> message = rpc::ReceiveRouted(socket_);
      if (!message) break;
      Handle(std::move(*message), Clock::now());
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

std::string TrackerServer::ClientIdOf(const rpc::RoutedMessage& from) const {
  if (curve()) return from.peer_key;
  return "conn-" + rpc::HmacSha256Hex(from.identity, client_id_key_).substr(0, 16);
}

Status TrackerServer::CheckRole(Role role, MessageType type, const std::string& peer_key) const {
  if (!curve() || role == Role::kAnyone) return Status::Ok();
  const rpc::AuthorizedKeys& keys = role == Role::kAgent ? config_.agent_keys : config_.client_keys;
  if (keys.find(peer_key) != keys.end()) return Status::Ok();
  return PermissionDeniedError(std::string(rpc::MessageTypeName(type)) + " is for " +
                               (role == Role::kAgent ? "agent" : "client") + " keys; key " +
                               rpc::KeyFingerprint(peer_key) + " is not one");
}

Status TrackerServer::Admit(const rpc::ParsedMessage& m, const std::string& peer_key) const {
  if (m.version < rpc::kMinProtocolVersion || m.version > rpc::kMaxProtocolVersion) {
    return UnimplementedError("protocol version mismatch: the message has version " +
                              std::to_string(m.version) + ", this tracker speaks " +
                              std::to_string(rpc::kMinProtocolVersion) + ".." +
                              std::to_string(rpc::kMaxProtocolVersion));
  }
  if (m.deadline_ms == 0 && m.type != MessageType::kReply) {
    return DeadlineExceededError(std::string(rpc::MessageTypeName(m.type)) +
                                 ": the deadline passed before the request was served");
  }
  switch (m.type) {
    case MessageType::kAgentHeartbeat:
    case MessageType::kAgentGoodbye:
      return CheckRole(Role::kAgent, m.type, peer_key);
    case MessageType::kRequestDevice:
    case MessageType::kCancelRequest:
    case MessageType::kReleaseLease:
      return CheckRole(Role::kClient, m.type, peer_key);
    default:
      return CheckRole(Role::kAnyone, m.type, peer_key);
  }
}

void TrackerServer::Handle(rpc::RoutedMessage message, TimePoint now) {
  StatusOr<rpc::ParsedMessage> parsed =
      rpc::ParseMessage(std::move(message.frames), rpc::ProtocolLimits{});
  if (!parsed.ok()) {
    Send(message.identity, std::move(MessageWriter::Reply(0, parsed.status(), 0)).Finish());
    return;
  }
  const rpc::ParsedMessage& m = *parsed;
  StatusOr<rpc::Frames> reply = [&]() -> StatusOr<rpc::Frames> {
    RETURN_IF_ERROR(Admit(m, message.peer_key));
    // The one catch of the tracker's request loop.
    try {
      switch (m.type) {
        case MessageType::kAgentHeartbeat:
          RETURN_IF_ERROR(Heartbeat(m, message.peer_key, now));
          return rpc::Frames();
        case MessageType::kAgentGoodbye:
          RETURN_IF_ERROR(Goodbye(m, message.peer_key, now));
          return rpc::Frames();
        case MessageType::kRequestDevice:
          RETURN_IF_ERROR(RequestDevice(message, m, now));
          return rpc::Frames();
        case MessageType::kCancelRequest:
          return CancelRequest(message, m);
        case MessageType::kReleaseLease:
          RETURN_IF_ERROR(ReleaseLease(message, m, now));
          return rpc::Frames();
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
  if (!reply.ok() && IsOneWay(m.type)) {
    // Never answered: the sender does not read replies, and a forger learns nothing.
    util::LogEvent("message_dropped", {{"type", std::string(rpc::MessageTypeName(m.type))},
                                        {"peer", PeerName(message.peer_key)},
                                        {"reason", reply.status().message()}});
  } else if (!reply.ok()) {
    Send(message.identity,
         std::move(MessageWriter::Reply(m.request_id, reply.status(), 0)).Finish());
  } else if (!reply->empty()) {
    Send(message.identity, std::move(*reply));
  }
}

Status TrackerServer::Heartbeat(const rpc::ParsedMessage& m, const std::string& peer_key,
                                TimePoint now) {
  ASSIGN_OR_RETURN(rpc::Verified<rpc::AgentHeartbeat> beat,
                   rpc::VerifyAgentHeartbeat(m, config_.secret));
  if (curve() && beat.message.public_key != peer_key) {
    return PermissionDeniedError("the heartbeat of agent " + beat.message.agent_id +
                                 " names another key than its connection's");
  }
  Status fresh = replay_guard_.Accept(beat.message.agent_id, beat.message.public_key, beat.stamp,
                                      rpc::WallClockMs());
  if (!fresh.ok()) return fresh.WithContext("agent " + beat.message.agent_id);
  std::vector<uint64_t> leases = beat.message.active_leases;
  Deliver(scheduler_.Heartbeat(ToAgentInfo(std::move(beat.message)), leases, now));
  return Status::Ok();
}

Status TrackerServer::Goodbye(const rpc::ParsedMessage& m, const std::string& peer_key,
                              TimePoint now) {
  ASSIGN_OR_RETURN(rpc::Verified<rpc::AgentGoodbye> bye,
                   rpc::VerifyAgentGoodbye(m, config_.secret));
  if (curve() && bye.message.public_key != peer_key) {
    return PermissionDeniedError("the goodbye of agent " + bye.message.agent_id +
                                 " names another key than its connection's");
  }
  Status fresh = replay_guard_.Accept(bye.message.agent_id, bye.message.public_key, bye.stamp,
                                      rpc::WallClockMs());
  if (!fresh.ok()) return fresh.WithContext("agent " + bye.message.agent_id);
  Deliver(scheduler_.RemoveAgent(bye.message.agent_id, now));
  util::LogEvent("agent_goodbye", {{"agent", bye.message.agent_id}});
  return Status::Ok();
}

Status TrackerServer::ReleaseLease(const rpc::RoutedMessage& from, const rpc::ParsedMessage& m,
                                   TimePoint now) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(uint64_t lease, rpc::ReadUint(m.item(0), "lease id"));
  SchedulerEvents events;
  Status released = scheduler_.ReleaseLease(lease, ClientIdOf(from), from.identity, now, &events);
  Deliver(events);
  // A lease that already ended is no attack: the session's end and the release race.
  return released.code() == StatusCode::kNotFound ? Status::Ok() : released;
}

Status TrackerServer::RequestDevice(const rpc::RoutedMessage& from, const rpc::ParsedMessage& m,
                                    TimePoint now) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 4));
  RequestSpec spec;
  spec.client_id = ClientIdOf(from);
  spec.connection = from.identity;
  ASSIGN_OR_RETURN(spec.key, rpc::ReadString(m.item(0), "key"));
  ASSIGN_OR_RETURN(spec.tags, ReadTags(m.item(1)));
  ASSIGN_OR_RETURN(int64_t priority, rpc::ReadInt(m.item(2), "priority"));
  ASSIGN_OR_RETURN(uint64_t timeout_ms, rpc::ReadUint(m.item(3), "timeout"));
  spec.priority = static_cast<int>(std::clamp<int64_t>(priority, INT32_MIN, INT32_MAX));
  spec.expires = now + std::chrono::milliseconds(std::min<uint64_t>(timeout_ms, 86400000));
  SchedulerEvents events;
  ASSIGN_OR_RETURN(uint64_t id, scheduler_.Submit(std::move(spec), now, &events));
  pending_[id] = Pending{from.identity, from.peer_key, m.request_id};
  Deliver(events);
  return Status::Ok();
}

StatusOr<rpc::Frames> TrackerServer::CancelRequest(const rpc::RoutedMessage& from,
                                                   const rpc::ParsedMessage& m) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(uint64_t client_request, rpc::ReadUint(m.item(0), "request id"));
  bool cancelled = false;
  // Only the requester's own: same connection and, under CURVE, same key.
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.identity == from.identity && it->second.peer_key == from.peer_key &&
        it->second.client_request_id == client_request) {
      cancelled = scheduler_.Cancel(it->first);
      Send(from.identity,
           std::move(MessageWriter::Reply(client_request,
                                          Status(StatusCode::kNotFound, "request cancelled"), 0))
               .Finish());
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
        signed_ticket.ok() ? Status::Ok() : signed_ticket.status(), signed_ticket.ok() ? 5 : 0);
    if (signed_ticket.ok()) {
      w.packer().pack(grant.agent.address);
      w.packer().pack(*signed_ticket);
      w.packer().pack(grant.lease_id);
      w.packer().pack(grant.agent.agent_id);
      w.packer().pack(grant.agent.public_key);
    }
    const std::string identity = it->second.identity;
    pending_.erase(it);
    if (!Send(identity, std::move(w).Finish())) {
      // The client left while it waited: free the agent (and drop the connection's other
      // requests) at once rather than after the connect grace period.
      SchedulerEvents freed;
      scheduler_.ReleaseConnection(identity, Clock::now(), &freed);
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
