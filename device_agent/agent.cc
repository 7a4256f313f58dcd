#include "device_agent/agent.h"

#include <openssl/rand.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "device_agent/event_log.h"
#include "device_agent/upload_cache.h"
#include "device_agent/worker_process.h"
#include "rpc/agent_heartbeat.h"
#include "rpc/router_io.h"
#include "rpc/ticket.h"
#include "runtime/device_api.h"
#include "util/hex.h"

namespace ferry::agent {
namespace {

constexpr size_t kEndedMemory = 1024;
constexpr auto kWorkerStartTimeout = std::chrono::seconds(10);
constexpr const char* kZapDomain = "ferry-agent";

StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return InternalError("the system random generator failed");
  }
  return util::HexEncode(raw);
}

// "tcp://HOST:PORT" -> HOST.
StatusOr<std::string> HostOf(const std::string& endpoint) {
  const std::string prefix = "tcp://";
  const size_t colon = endpoint.rfind(':');
  if (endpoint.rfind(prefix, 0) != 0 || colon == std::string::npos || colon < prefix.size()) {
    return InvalidArgumentError("listen address must look like tcp://HOST:PORT, got '" + endpoint + "'");
  }
  return endpoint.substr(prefix.size(), colon - prefix.size());
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]";
}

// Why a worker ended, from its wait status. A worker under a memory limit that died of a
// signal an exhausted allocation ends in (an abort on std::bad_alloc, a fault on a null
// allocation, a kill) is told so, since that limit is the likely cause.
std::string DescribeExit(int wait_status, uint64_t max_address_space) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    std::string reason =
        "session worker died: " + SignalName(sig) + " (signal " + std::to_string(sig) + ")";
    if (max_address_space > 0 &&
        (sig == SIGABRT || sig == SIGSEGV || sig == SIGBUS || sig == SIGKILL)) {
      reason += "; it may have run out of memory: it was limited to " +
                std::to_string(max_address_space) + " bytes of address space (--worker-max-memory)";
    }
    return reason;
  }
  const int code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  std::string reason = WorkerExitReason(code);
  return reason.empty() ? "session worker exited with code " + std::to_string(code) : reason;
}

}  // namespace

StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentConfig config) {
  ASSIGN_OR_RETURN(std::string host, HostOf(config.listen));
  if (!IsLoopback(host) && !config.identity && !config.insecure) {
    return PermissionDeniedError("refusing to listen on non-loopback address " + config.listen +
                                 " without keys: give --identity and --authorized-keys, or pass "
                                 "--insecure to allow plaintext");
  }
  if (config.identity && config.client_keys.empty()) {
    return InvalidArgumentError("an agent with an identity needs --authorized-keys listing the "
                                "client keys it admits");
  }
  if (config.identity && !config.tracker.empty() && !rpc::IsZ85Key(config.tracker_key)) {
    return InvalidArgumentError("an agent with an identity needs --tracker-key for its tracker");
  }
  if (config.work_dir.empty()) return InvalidArgumentError("the agent needs a work directory");
  std::error_code ec;
  std::filesystem::create_directories(config.work_dir + "/cache", ec);
  std::filesystem::create_directories(config.work_dir + "/sessions", ec);
  if (ec) return UnavailableError("cannot create " + config.work_dir + ": " + ec.message());
  // Uploads of workers that died with an earlier agent left their temp files.
  ASSIGN_OR_RETURN(UploadCache cache, UploadCache::Open(config.work_dir + "/cache"));
  if (StatusOr<size_t> removed = cache.RemoveAllTempFiles(); removed.ok() && *removed > 0) {
    LogEvent("cache_temp_files_removed", {{"count", std::to_string(*removed)}});
  }
  // Workers bind on the listener's host; a wildcard listener gives them every interface.
  const std::string bind_host = host == "*" || host == "0.0.0.0" ? "0.0.0.0" : host;
  std::unique_ptr<Agent> agent(new Agent(std::move(config), bind_host));
  try {
    if (agent->config_.identity) {
      ASSIGN_OR_RETURN(agent->zap_, rpc::ZapHandler::Start(agent->context_, [](const std::string&,
                                                                               const std::string& key,
                                                                               const std::string& peer) {
        LogEvent("connection_refused", {{"key", key}, {"peer", peer}});
      }));
      agent->zap_->Allow(kZapDomain, agent->config_.client_keys);
      rpc::ApplyServerCurve(agent->listener_, agent->config_.identity->secret_key, kZapDomain);
    }
    agent->listener_.set(zmq::sockopt::linger, 0);
    agent->listener_.set(zmq::sockopt::maxmsgsize, int64_t{1} << 20);
    agent->listener_.set(zmq::sockopt::router_mandatory, 0);
    agent->listener_.bind(agent->config_.listen);
    agent->endpoint_ = agent->listener_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return UnavailableError("cannot listen on " + agent->config_.listen + ": " + e.what());
  }
  LogEvent("agent_listening",
           {{"endpoint", agent->endpoint_},
            {"work_dir", agent->config_.work_dir},
            {"security", agent->config_.identity
                             ? "curve (" + std::to_string(agent->config_.client_keys.size()) +
                                   " client keys)"
                             : "plaintext"}});
  if (!agent->config_.tracker.empty()) {
    if (agent->config_.secret.size() < 16) {
      return InvalidArgumentError("an agent under a tracker needs its shared secret (--secret-file)");
    }
    if (agent->config_.key.empty()) return InvalidArgumentError("an agent under a tracker needs --key");
    ASSIGN_OR_RETURN(agent->agent_id_, RandomHex(8));
    try {
      zmq::socket_t link(agent->context_, zmq::socket_type::dealer);
      link.set(zmq::sockopt::linger, 0);
      // Heartbeats are soft state: drop them while the tracker is unreachable.
      link.set(zmq::sockopt::immediate, 1);
      link.set(zmq::sockopt::sndhwm, 4);
      if (agent->config_.identity) {
        rpc::ApplyClientCurve(link, *agent->config_.identity, agent->config_.tracker_key);
      }
      // Watch the handshake: a tracker that refuses this agent's key says so only there.
      constexpr const char* kLinkMonitor = "inproc://agent-tracker-link-monitor";
      if (zmq_socket_monitor(link.handle(), kLinkMonitor,
                             ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0) {
        agent->tracker_monitor_.emplace(agent->context_, zmq::socket_type::pair);
        agent->tracker_monitor_->set(zmq::sockopt::linger, 0);
        agent->tracker_monitor_->connect(kLinkMonitor);
      }
      link.connect(agent->config_.tracker);
      agent->tracker_.emplace(std::move(link));
    } catch (const zmq::error_t& e) {
      return InvalidArgumentError("cannot connect to tracker " + agent->config_.tracker + ": " + e.what());
    }
    LogEvent("tracker_link", {{"tracker", agent->config_.tracker}, {"key", agent->config_.key},
                              {"agent", agent->agent_id_}});
  }
  return agent;
}

Agent::Agent(AgentConfig config, std::string bind_host)
    : config_(std::move(config)),
      bind_host_(std::move(bind_host)),
      listener_(context_, zmq::socket_type::router) {}

Agent::~Agent() { StopAllSessions(); }

Status Agent::Serve(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    zmq::pollitem_t item{listener_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal: look at `stop`
    }
    ReapWorkers();
    ReadWorkerReports();
    WatchTrackerLink();
    if (tracker_ && std::chrono::steady_clock::now() >= next_heartbeat_) {
      SendHeartbeat();
      next_heartbeat_ = std::chrono::steady_clock::now() + config_.heartbeat_interval;
    }
    if (!(item.revents & ZMQ_POLLIN)) continue;
    std::optional<rpc::RoutedMessage> request = rpc::ReceiveRouted(listener_);
    if (!request) continue;
    const std::string identity = request->identity;
    std::optional<rpc::Frames> reply = HandleRequest(std::move(*request));
    std::string send_error;
    if (reply && !rpc::SendRouted(listener_, identity, std::move(*reply), &send_error)) {
      LogEvent("agent_send_failed", {{"error", send_error}});
    }
  }
  StopAllSessions();
  if (tracker_) {
    // Signed like heartbeats, naming the key the tracker sees on this connection.
    SendToTracker(rpc::EncodeAgentGoodbye({agent_id_, PublicKey()}, config_.secret,
                                          {rpc::NextAgentSequence(), rpc::WallClockMs()}, 1000));
  }
  LogEvent("agent_stopped", {{"endpoint", endpoint_}});
  return Status::Ok();
}

void Agent::WatchTrackerLink() {
  if (!tracker_monitor_) return;
  while (true) {
    zmq::message_t event, address;
    if (!tracker_monitor_->recv(event, zmq::recv_flags::dontwait)) return;
    if (event.more()) (void)tracker_monitor_->recv(address, zmq::recv_flags::dontwait);
    if (event.size() < 2) continue;
    uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof(id));
    const std::string state =
        id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? "up"
        : id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            ? "refused: the tracker does not admit this agent's key (add it to --agent-keys)"
            : "handshake failed: check --tracker-key and that the tracker uses CURVE";
    // ZeroMQ retries every 100 ms: log changes, not every attempt.
    if (state == tracker_link_state_) continue;
    tracker_link_state_ = state;
    LogEvent("tracker_link_state", {{"tracker", config_.tracker}, {"state", state}});
  }
}

void Agent::SendToTracker(rpc::Frames frames) {
  try {
    for (size_t i = 0; i < frames.size(); ++i) {
      if (!tracker_->send(frames[i], (i + 1 < frames.size() ? zmq::send_flags::sndmore
                                                          : zmq::send_flags::none) |
                                         zmq::send_flags::dontwait)) {
        return;  // not connected: the next heartbeat tries again
      }
    }
  } catch (const zmq::error_t&) {
  }
}

void Agent::SendHeartbeat() {
  rpc::AgentHeartbeat heartbeat;
  heartbeat.agent_id = agent_id_;
  heartbeat.key = config_.key;
  heartbeat.address = config_.advertise.empty() ? endpoint_ : config_.advertise;
  for (DLDeviceType type : {kDLCPU, kDLCUDA}) {
    StatusOr<DeviceApi*> api = GetDeviceApi(type);
    if (!api.ok()) continue;
    int count = 0;
    DeviceAttributes first;
    for (int id = 0; id < 16; ++id) {
      DeviceAttributes attrs = (*api)->GetAttributes(Device{type, id});
      if (!attrs.exists) break;
      if (count++ == 0) first = attrs;
      if (type == kDLCPU) break;  // one CPU device
    }
    if (count > 0) {
      heartbeat.devices.push_back({DeviceTypeName(type), count, first.total_memory, first.name});
    }
  }
  heartbeat.tags = config_.tags;
  for (const auto& [id, session] : sessions_) {
    if (session.lease_id != 0) heartbeat.active_leases.push_back(session.lease_id);
  }
  // Under CURVE the tracker checks it against the connection's key; clients get it with
  // their grant and connect to this agent with it.
  heartbeat.public_key = PublicKey();
  SendToTracker(rpc::EncodeAgentHeartbeat(
      heartbeat, config_.secret, {rpc::NextAgentSequence(), rpc::WallClockMs()},
      static_cast<uint32_t>(config_.heartbeat_interval.count() * 3)));
}

StatusOr<uint64_t> Agent::CheckTicket(const rpc::ParsedMessage& m, const std::string& client_key) {
  if (!tracker_) return uint64_t{0};
  if (m.body_size() < 3) {
    return PermissionDeniedError("this agent serves through a tracker: a session needs a ticket");
  }
  ASSIGN_OR_RETURN(std::string text, rpc::ReadString(m.item(2), "ticket"));
  const int64_t now = rpc::WallClockMs();
  ASSIGN_OR_RETURN(rpc::Ticket ticket, rpc::VerifyTicket(text, config_.secret, now));
  if (ticket.agent_id != agent_id_) {
    return PermissionDeniedError("the ticket is for another agent");
  }
  // A tracker under CURVE names the client by its key: only that client may use the ticket.
  if (!client_key.empty() && rpc::IsZ85Key(ticket.client_id) && ticket.client_id != client_key) {
    return PermissionDeniedError("the ticket was granted to another client");
  }
  for (auto it = used_leases_.begin(); it != used_leases_.end();) {
    it = it->second <= now ? used_leases_.erase(it) : std::next(it);
  }
  if (!used_leases_.emplace(ticket.lease_id, ticket.expiry_ms).second) {
    return PermissionDeniedError("the ticket was already used (replayed)");
  }
  return ticket.lease_id;
}

std::optional<rpc::Frames> Agent::HandleRequest(rpc::RoutedMessage request) {
  StatusOr<rpc::ParsedMessage> parsed =
      rpc::ParseMessage(std::move(request.frames), rpc::ProtocolLimits{});
  if (!parsed.ok()) {
    LogEvent("bad_request", {{"error", parsed.status().message()}});
    return std::move(rpc::MessageWriter::Reply(0, parsed.status(), 0)).Finish();
  }
  StatusOr<rpc::Frames> reply = [&]() -> StatusOr<rpc::Frames> {
    // The one catch of the agent's request loop.
    try {
      RETURN_IF_ERROR(rpc::CheckRequestHeader(*parsed, "this agent"));
      switch (parsed->type) {
        case rpc::MessageType::kOpenSession:
          return OpenSession(*parsed, request);
        case rpc::MessageType::kSessionStatus:
          return SessionStatus(*parsed);
        default:
          return UnimplementedError("the agent does not serve " +
                                    std::string(rpc::MessageTypeName(parsed->type)) +
                                    "; send it to the session worker");
      }
    } catch (const std::exception& e) {
      return InternalError(std::string("agent: ") + e.what());
    }
  }();
  if (!reply.ok()) return std::move(rpc::MessageWriter::Reply(parsed->request_id, reply.status(), 0)).Finish();
  return std::move(*reply);
}

StatusOr<rpc::Frames> Agent::OpenSession(const rpc::ParsedMessage& m,
                                         const rpc::RoutedMessage& from) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 2));
  ASSIGN_OR_RETURN(uint64_t client_min, rpc::ReadUint(m.item(0), "min version"));
  ASSIGN_OR_RETURN(uint64_t client_max, rpc::ReadUint(m.item(1), "max version"));
  const uint64_t version = std::min<uint64_t>(client_max, rpc::kMaxProtocolVersion);
  if (version < std::max<uint64_t>(client_min, rpc::kMinProtocolVersion)) {
    LogEvent("session_refused", {{"reason", "protocol version mismatch"}});
    return UnimplementedError("protocol version mismatch: the client speaks " +
                              std::to_string(client_min) + ".." + std::to_string(client_max) +
                              ", this agent speaks " + std::to_string(rpc::kMinProtocolVersion) +
                              ".." + std::to_string(rpc::kMaxProtocolVersion));
  }
  const std::string peer = from.peer_key.empty()
                               ? (from.peer_address.empty() ? "unknown" : from.peer_address)
                               : rpc::KeyFingerprint(from.peer_key);
  StatusOr<uint64_t> lease = CheckTicket(m, from.peer_key);
  if (!lease.ok()) {
    LogEvent("session_refused", {{"reason", lease.status().message()}, {"peer", peer}});
    return lease.status();
  }
  if (sessions_.size() >= static_cast<size_t>(config_.max_sessions)) {
    return ResourceExhaustedError("the agent already serves " + std::to_string(sessions_.size()) +
                                  " sessions");
  }
  if (UnclaimedSessionsOf(peer) >= config_.max_unclaimed_per_peer) {
    LogEvent("session_refused", {{"reason", "too many unclaimed sessions"}, {"peer", peer}});
    return ResourceExhaustedError(
        "this peer already holds " + std::to_string(config_.max_unclaimed_per_peer) +
        " sessions it has not said Hello to; say Hello or wait for them to expire");
  }
  ASSIGN_OR_RETURN(std::string id, RandomHex(8));
  ASSIGN_OR_RETURN(std::string token, RandomHex(16));
  WorkerConfig worker;
  worker.session_id = id;
  worker.sessions_root = config_.work_dir + "/sessions";
  worker.cache_dir = config_.work_dir + "/cache";
  worker.bind_host = bind_host_;
  worker.token = token;
  worker.limits = {config_.session_timeout, config_.hello_timeout, config_.call_grace};
  worker.max_message_bytes = config_.max_message_bytes;
  worker.max_upload_bytes = config_.max_upload_bytes;
  worker.cache_max_bytes = config_.cache_max_bytes;
  worker.session_quota_bytes = config_.session_quota_bytes;
  worker.max_address_space = config_.worker_max_address_space;
  worker.max_open_files = config_.worker_max_open_files;
  worker.kernel_threads = config_.worker_threads;
  if (config_.identity) {
    worker.secret_key = config_.identity->secret_key;
    worker.client_key = from.peer_key;
  }
  StatusOr<StartedWorker> started =
      StartWorkerProcess(config_.worker_executable, worker, kWorkerStartTimeout);
  if (!started.ok()) {
    LogEvent("session_failed", {{"session", id}, {"error", started.status().message()}});
    return started.status();
  }
  sessions_[id] = Session{started->pid,  started->endpoint, std::chrono::steady_clock::now(),
                          *lease,         peer,              started->report_fd};
  LogEvent("session_open", {{"session", id},
                            {"peer", peer},
                            {"worker_pid", std::to_string(started->pid)},
                            {"worker_endpoint", started->endpoint},
                            {"version", std::to_string(version)},
                            {"lease", std::to_string(*lease)}});
  if (tracker_) SendHeartbeat();  // the tracker learns at once that the lease is in use
  rpc::MessageWriter w = rpc::MessageWriter::Reply(m.request_id, Status::Ok(), 4);
  w.packer().pack(version);
  w.packer().pack(id);
  w.packer().pack(started->endpoint);
  w.packer().pack(token);
  return std::move(w).Finish();
}

StatusOr<rpc::Frames> Agent::SessionStatus(const rpc::ParsedMessage& m) {
  RETURN_IF_ERROR(rpc::CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(std::string id, rpc::ReadString(m.item(0), "session id"));
  // A worker that just died may not be reaped yet: give it a moment.
  if (auto it = sessions_.find(id); it != sessions_.end()) {
    for (int i = 0; i < 20 && sessions_.count(id) != 0; ++i) {
      int wait_status = 0;
      if (waitpid(it->second.pid, &wait_status, WNOHANG) == it->second.pid) {
        EndSession(id, DescribeExit(wait_status, config_.worker_max_address_space));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  rpc::MessageWriter w = rpc::MessageWriter::Reply(m.request_id, Status::Ok(), 2);
  if (sessions_.count(id) != 0) {
    w.packer().pack(true);
    w.packer().pack(std::string());
  } else {
    auto ended = ended_.find(id);
    w.packer().pack(false);
    w.packer().pack(ended != ended_.end() ? ended->second : std::string("unknown session"));
  }
  return std::move(w).Finish();
}

void Agent::ReapWorkers() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    int wait_status = 0;
    const std::string id = it->first;
    ++it;
    if (waitpid(sessions_[id].pid, &wait_status, WNOHANG) == sessions_[id].pid) {
      EndSession(id, DescribeExit(wait_status, config_.worker_max_address_space));
    }
  }
}

void Agent::ReadWorkerReports() {
  for (auto& [id, session] : sessions_) {
    if (session.claimed || session.report_fd < 0) continue;
    char buffer[64];
    const ssize_t n = ::read(session.report_fd, buffer, sizeof(buffer));
    if (n > 0 && std::string_view(buffer, static_cast<size_t>(n)).find("HELLO") != std::string_view::npos) {
      session.claimed = true;
    }
  }
}

int Agent::UnclaimedSessionsOf(const std::string& peer) const {
  int count = 0;
  for (const auto& [id, session] : sessions_) count += !session.claimed && session.peer == peer;
  return count;
}

void Agent::EndSession(const std::string& id, const std::string& reason) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  if (it->second.report_fd >= 0) ::close(it->second.report_fd);
  // A worker killed mid-upload leaves its temp file in the shared cache.
  if (StatusOr<UploadCache> cache = UploadCache::Open(config_.work_dir + "/cache"); cache.ok()) {
    (void)cache->RemoveTempFilesOf(it->second.pid);
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                     it->second.started).count();
  const bool leased = it->second.lease_id != 0;
  sessions_.erase(it);
  if (leased && tracker_) SendHeartbeat();  // frees the lease on the tracker now
  std::error_code ec;
  std::filesystem::remove_all(config_.work_dir + "/sessions/" + id, ec);
  ended_[id] = reason;
  ended_order_.push_back(id);
  if (ended_order_.size() > kEndedMemory) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
  LogEvent("session_end", {{"session", id}, {"reason", reason},
                           {"seconds", std::to_string(seconds)}});
}

void Agent::StopAllSessions() {
  for (auto& [id, session] : sessions_) kill(session.pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!sessions_.empty() && std::chrono::steady_clock::now() < deadline) {
    ReapWorkers();
    if (!sessions_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& [id, session] : sessions_) kill(session.pid, SIGKILL);
  while (!sessions_.empty()) {
    const std::string id = sessions_.begin()->first;
    int wait_status = 0;
    waitpid(sessions_.begin()->second.pid, &wait_status, 0);
    EndSession(id, "agent stopped");
  }
}

}  // namespace ferry::agent
