#include "device_agent/session_worker.h"

#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <zmq.hpp>

#include "device_agent/agent_session_files.h"
#include "device_agent/event_log.h"
#include "rpc/curve_keys.h"
#include "rpc/router_io.h"
#include "rpc/sealed_channel.h"
#include "rpc/sealed_router.h"
#include "rpc/session_server.h"
#include "rpc/zap_handler.h"
#include "runtime/build_config.h"
#include "runtime/kernel_threads.h"
#include "runtime/value.h"

namespace ferry::agent {
namespace {

constexpr const char* kMonitorEndpoint = "inproc://worker-monitor";
constexpr const char* kZapDomain = "ferry-session";

// Global functions every session offers.
Status RegisterSessionFunctions(FunctionRegistry& registry) {
  RETURN_IF_ERROR(RegisterKernelThreadFunctions(registry));
  RETURN_IF_ERROR(registry.Register(
      "ferry.echo", PackedFunc([](std::span<const Value> args) -> StatusOr<Value> {
        return args.empty() ? Value() : args[0];
      })));
  return registry.Register("ferry.version",
                           PackedFunc([](std::span<const Value>) -> StatusOr<Value> {
                             return Value(std::string(FERRY_VERSION));
                           }));
}

bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// No core dumps (they would hold the session's data), bounded descriptors and memory.
Status ApplyResourceLimits(const WorkerConfig& config) {
  auto set = [](int resource, uint64_t value, const char* name) -> Status {
    const rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    if (setrlimit(resource, &limit) != 0) {
      return InternalError(std::string("cannot limit ") + name + ": " + std::strerror(errno));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(set(RLIMIT_CORE, 0, "core dumps"));
  if (config.max_open_files > 0) RETURN_IF_ERROR(set(RLIMIT_NOFILE, config.max_open_files, "open files"));
  if (config.max_address_space > 0) {
    RETURN_IF_ERROR(set(RLIMIT_AS, config.max_address_space, "address space"));
  }
  return Status::Ok();
}

// Binds the worker's ROUTER socket (CURVE with only the session's client key admitted, when
// the config has keys) and its monitor. Returns the bound endpoint.
StatusOr<std::string> BindRouter(const WorkerConfig& config, zmq::context_t& context,
                                 zmq::socket_t& router,
                                 std::unique_ptr<rpc::ZapHandler>& zap) {
  try {
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::maxmsgsize, config.max_message_bytes);
    router.set(zmq::sockopt::heartbeat_ivl, 1000);
    router.set(zmq::sockopt::heartbeat_timeout, 5000);
    if (!config.client_key.empty()) {
      ASSIGN_OR_RETURN(zap, rpc::ZapHandler::Start(context, [&](const std::string&,
                                                                const std::string& key,
                                                                const std::string& address) {
        LogEvent("connection_refused", {{"session", config.session_id}, {"key", key},
                                        {"peer", address}});
      }));
      zap->AllowKey(kZapDomain, config.client_key);
      rpc::ApplyServerCurve(router, config.secret_key, kZapDomain);
    }
    router.bind("tcp://" + config.bind_host + ":*");
    if (zmq_socket_monitor(router.handle(), kMonitorEndpoint,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
      return InternalError("cannot monitor the worker's socket");
    }
    return router.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return UnavailableError(std::string("cannot bind the session socket: ") + e.what());
  }
}

// The name under which SessionServer binds a connection: routing id and CURVE key.
std::string ConnectionName(const rpc::RoutedMessage& message) {
  return message.identity + '\0' + message.peer_key;
}

// A running session: its sockets, its server and its request loop.
class SessionLoop {
 public:
  SessionLoop(const WorkerConfig& config, zmq::socket_t& router, rpc::SealedRouter* bulk,
              rpc::SessionServer& server, WorkerWatchdog& watchdog)
      : config_(config), router_(router), bulk_(bulk), server_(server), watchdog_(watchdog) {}

  // Serves until the session ends; returns how it ended.
  WorkerWatchdog::Ending Serve() {
    while (true) {
      if (std::optional<WorkerWatchdog::Ending> end = watchdog_.ShouldEnd()) return *end;
      zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                                 {bulk_ ? bulk_->socket().handle() : nullptr, 0, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, bulk_ ? 2 : 1, std::chrono::milliseconds(100));
      } catch (const zmq::error_t&) {
        continue;  // EINTR
      }
      if (bulk_ && (items[1].revents & ZMQ_POLLIN)) ServeBulk();
      if ((items[0].revents & ZMQ_POLLIN) && ServeMain()) return {0, "closed by the client"};
    }
  }

 private:
  // Serves one queued message of the worker connection; true once the client closed.
  bool ServeMain() {
    std::optional<rpc::RoutedMessage> request = rpc::ReceiveRouted(router_);
    if (!request) return false;
    const bool was_greeted = server_.greeted();
    std::optional<rpc::Frames> reply =
        server_.Handle(std::move(request->frames), ConnectionName(*request));
    watchdog_.CallEnded();
    if (!was_greeted && server_.greeted()) {
      owner_connection_ = ConnectionName(*request);
      watchdog_.Greeted(request->connection_fd);
      WriteAll(config_.report_fd, "HELLO\n");
      LogEvent("session_claimed", {{"session", config_.session_id},
                                   {"key", request->peer_key.empty()
                                               ? "none"
                                               : rpc::KeyFingerprint(request->peer_key)}});
    }
    std::string send_error;
    if (reply && !rpc::SendRouted(router_, request->identity, std::move(*reply), &send_error)) {
      LogEvent("worker_send_failed", {{"session", config_.session_id}, {"error", send_error}});
    }
    return server_.close_requested();
  }

  // Serves one queued message of the bulk connection (sealed_router.h), if there is one: a
  // bulk request (rpc::IsBulkMessageType) of the session's client, sealed under the session's
  // key, is served as if it had come on the connection Hello bound; another request type is
  // refused; anything that does not open is dropped and logged.
  void ServeBulk() {
    std::string dropped;
    std::optional<rpc::Frames> request = bulk_->Receive(&dropped);
    if (!request) {
      if (!dropped.empty()) {
        LogEvent("bulk_message_dropped", {{"session", config_.session_id}, {"reason", dropped}});
      }
      return;
    }
    // The key travels only in the Hello reply, so a message that opens comes after Hello.
    if (!server_.greeted()) return;
    rpc::Frames header;
    header.emplace_back(request->front().data(), request->front().size());
    StatusOr<rpc::ParsedMessage> parsed =
        rpc::ParseMessage(std::move(header), rpc::ProtocolLimits{});
    std::optional<rpc::Frames> reply;
    if (parsed.ok() && !rpc::IsBulkMessageType(parsed->type)) {
      reply = std::move(rpc::MessageWriter::Reply(
                            parsed->request_id,
                            PermissionDeniedError("only CopyToRemote, CopyFromRemote and "
                                                  "UploadChunk travel on the bulk connection"),
                            0))
                  .Finish();
    } else {
      reply = server_.Handle(std::move(*request), owner_connection_);
      watchdog_.CallEnded();
    }
    std::string send_error;
    if (reply && !bulk_->Reply(*reply, &send_error)) {
      LogEvent("worker_send_failed", {{"session", config_.session_id}, {"error", send_error}});
    }
  }

  const WorkerConfig& config_;
  zmq::socket_t& router_;
  rpc::SealedRouter* bulk_;  // null for a plaintext session
  rpc::SessionServer& server_;
  WorkerWatchdog& watchdog_;
  std::string owner_connection_;  // the connection Hello bound
};

}  // namespace

int RunSessionWorker(const WorkerConfig& config) {
  // Bulk transfers allocate and free chunk-sized buffers on ZeroMQ's threads; keep such
  // memory in the heap instead of returning it to the kernel after every few chunks (each
  // fresh page costs a fault, which dominated copy time on small VMs).
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(2 * rpc::kChunkBytes));
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Die with the agent; if it is already gone, stop now.
  const pid_t agent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != agent) return 1;
  auto fail = [&](const Status& status) {
    LogEvent("worker_failed", {{"session", config.session_id}, {"error", status.ToString()}});
    return 1;
  };
  if (Status s = ApplyResourceLimits(config); !s.ok()) return fail(s);

  StatusOr<UploadCache> cache = UploadCache::Open(config.cache_dir);
  StatusOr<SessionDirectory> directory =
      cache.ok() ? SessionDirectory::Create(config.sessions_root, config.session_id)
                 : StatusOr<SessionDirectory>(cache.status());
  if (!directory.ok()) return fail(directory.status());
  // Cached content belongs to the client identity that uploaded it.
  const std::string owner =
      config.client_key.empty() ? kAnonymousOwner : rpc::KeyFingerprint(config.client_key);
  AgentSessionFiles files(std::move(*cache), owner, std::move(*directory),
                          StorageLimits{.max_upload_bytes = config.max_upload_bytes,
                                        .cache_max_bytes = config.cache_max_bytes,
                                        .session_quota_bytes = config.session_quota_bytes});
  FunctionRegistry globals;
  if (Status s = RegisterSessionFunctions(globals); !s.ok()) return fail(s);

  zmq::context_t context(1);
  std::unique_ptr<rpc::ZapHandler> zap;
  zmq::socket_t router(context, zmq::socket_type::router);
  StatusOr<std::string> endpoint = BindRouter(config, context, router, zap);
  if (!endpoint.ok()) return fail(endpoint.status());
  // A CURVE session also offers a bulk connection sealed with AES-256-GCM.
  std::unique_ptr<rpc::SealedRouter> bulk;
  if (!config.client_key.empty()) {
    StatusOr<std::unique_ptr<rpc::SealedRouter>> bound =
        rpc::SealedRouter::Bind(context, config.bind_host);
    if (!bound.ok()) return fail(bound.status());
    bulk = std::move(*bound);
  }
  WorkerWatchdog watchdog(context, kMonitorEndpoint, config.limits, config.session_id);

  rpc::SessionServerOptions options;
  options.token = config.token;
  options.max_array_bytes = config.max_upload_bytes;
  options.on_request_start = [&](uint32_t deadline_ms) { watchdog.CallStarted(deadline_ms); };
  if (bulk != nullptr) {
    options.bulk_port = bulk->port();
    options.bulk_key = bulk->key();
  }
  rpc::SessionServer server(&globals, &files, options);

  if (!WriteAll(config.report_fd, "ENDPOINT " + *endpoint + "\n")) return 1;
  const WorkerWatchdog::Ending ending =
      SessionLoop(config, router, bulk.get(), server, watchdog).Serve();
  ::close(config.report_fd);
  zmq_socket_monitor(router.handle(), nullptr, 0);
  // Let the last reply (to CloseSession) go out before the socket closes.
  router.set(zmq::sockopt::linger, 1000);
  LogEvent("worker_exit", {{"session", config.session_id}, {"reason", ending.reason}});
  return ending.exit_code;
}

}  // namespace ferry::agent
