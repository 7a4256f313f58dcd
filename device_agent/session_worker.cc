#include "device_agent/session_worker.h"

#include <malloc.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <zmq.hpp>

#include "device_agent/agent_session_files.h"
#include "device_agent/event_log.h"
#include "rpc/router_io.h"
#include "rpc/session_server.h"
#include "runtime/build_config.h"
#include "runtime/value.h"

namespace ferry::agent {
namespace {

// Global functions every session offers.
Status RegisterSessionFunctions(FunctionRegistry& registry) {
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

  StatusOr<UploadCache> cache = UploadCache::Open(config.cache_dir);
  StatusOr<SessionDirectory> directory =
      cache.ok() ? SessionDirectory::Create(config.sessions_root, config.session_id)
                 : StatusOr<SessionDirectory>(cache.status());
  if (!directory.ok()) {
    LogEvent("worker_failed", {{"session", config.session_id}, {"error", directory.status().ToString()}});
    return 1;
  }
  AgentSessionFiles files(std::move(*cache), kAnonymousOwner, std::move(*directory),
                          StorageLimits{.max_upload_bytes = config.max_upload_bytes});
  FunctionRegistry globals;
  if (Status s = RegisterSessionFunctions(globals); !s.ok()) return 1;
  rpc::SessionServerOptions options;
  options.token = config.token;
  options.max_array_bytes = config.max_upload_bytes;
  rpc::SessionServer server(&globals, &files, options);

  zmq::context_t context(1);
  zmq::socket_t router(context, zmq::socket_type::router);
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  try {
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::maxmsgsize, config.max_message_bytes);
    router.set(zmq::sockopt::heartbeat_ivl, 1000);
    router.set(zmq::sockopt::heartbeat_timeout, 5000);
    router.bind("tcp://" + config.bind_host + ":*");
    zmq_socket_monitor(router.handle(), "inproc://worker-monitor",
                       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    monitor.connect("inproc://worker-monitor");
  } catch (const zmq::error_t& e) {
    LogEvent("worker_failed", {{"session", config.session_id}, {"error", e.what()}});
    return 1;
  }
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  if (!WriteAll(config.report_fd, "ENDPOINT " + endpoint + "\n")) return 1;
  ::close(config.report_fd);

  int connections = 0;
  bool had_client = false;
  std::string end_reason = "idle timeout";
  auto idle_deadline = std::chrono::steady_clock::now() + config.idle_timeout;
  while (true) {
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor.handle(), 0, ZMQ_POLLIN, 0}};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        idle_deadline - std::chrono::steady_clock::now());
    if (wait.count() <= 0) break;
    zmq::poll(items, 2, std::min(wait, std::chrono::milliseconds(1000)));
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t event, address;
      (void)monitor.recv(event);
      if (event.more()) (void)monitor.recv(address);
      uint16_t id = 0;
      if (event.size() >= 2) std::memcpy(&id, event.data(), sizeof(id));
      if (id == ZMQ_EVENT_ACCEPTED) {
        ++connections;
        had_client = true;
      } else if (id == ZMQ_EVENT_DISCONNECTED) {
        --connections;
      }
      if (had_client && connections <= 0) {
        end_reason = "client disconnected";
        break;
      }
    }
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    std::optional<rpc::RoutedMessage> request = rpc::ReceiveRouted(router);
    if (!request) continue;
    std::optional<rpc::Frames> reply = server.Handle(std::move(request->frames));
    std::string send_error;
    if (reply && !rpc::SendRouted(router, request->identity, std::move(*reply), &send_error)) {
      LogEvent("worker_send_failed", {{"session", config.session_id}, {"error", send_error}});
    }
    // A long call must not count as idle time.
    idle_deadline = std::chrono::steady_clock::now() + config.idle_timeout;
    if (server.close_requested()) {
      end_reason = "closed by the client";
      break;
    }
  }
  zmq_socket_monitor(router.handle(), nullptr, 0);
  // Let the last reply (to CloseSession) go out before the socket closes.
  router.set(zmq::sockopt::linger, 1000);
  LogEvent("worker_exit", {{"session", config.session_id}, {"reason", end_reason}});
  return end_reason == "idle timeout" ? kWorkerExitIdle : 0;
}

}  // namespace ferry::agent
