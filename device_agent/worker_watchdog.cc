#include "device_agent/worker_watchdog.h"

#include <unistd.h>

#include <cstring>

#include "device_agent/event_log.h"

namespace ferry::agent {
namespace {

constexpr auto kWatchInterval = std::chrono::milliseconds(100);

std::string Describe(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

}  // namespace

std::string WorkerExitReason(int code) {
  switch (code) {
    case 0:
      return "session ended";
    case kWorkerExitIdle:
      return "session ended after its idle timeout";
    case kWorkerExitNoHello:
      return "session ended: the client did not say Hello in time";
    case kWorkerExitCallDeadline:
      return "session ended: a call outlived its deadline and was stopped";
    case kWorkerExitClientGone:
      return "session ended: the client disconnected during a call, which was stopped";
    case kWorkerExitCallTimeout:
      return "session ended: a call ran past the session timeout and was stopped";
    default:
      return "";
  }
}

WorkerWatchdog::WorkerWatchdog(zmq::context_t& context, const std::string& monitor_endpoint,
                               WatchdogLimits limits, std::string session_id)
    : monitor_(context, zmq::socket_type::pair),
      limits_(limits),
      session_id_(std::move(session_id)) {
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(monitor_endpoint);
  thread_ = std::thread([this] { Watch(); });
}

WorkerWatchdog::~WorkerWatchdog() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void WorkerWatchdog::Greeted(int connection_fd) {
  client_fd_.store(connection_fd);
  greeted_.store(true);
}

void WorkerWatchdog::CallStarted(uint32_t deadline_ms) {
  const Clock::time_point now = Clock::now();
  call_deadline_.store(Ticks(now + std::chrono::milliseconds(deadline_ms)));
  call_started_.store(Ticks(now));
}

void WorkerWatchdog::CallEnded() {
  call_started_.store(0);
  last_activity_.store(Ticks(Clock::now()));
}

std::optional<WorkerWatchdog::Ending> WorkerWatchdog::ShouldEnd() const {
  const Clock::time_point now = Clock::now();
  if (client_gone_.load()) return Ending{0, "client disconnected"};
  if (!greeted_.load() && now - started_ >= limits_.hello_timeout) {
    return Ending{kWorkerExitNoHello, "no Hello within " + Describe(limits_.hello_timeout)};
  }
  if (Ticks(now) - last_activity_.load() >=
      std::chrono::duration_cast<Clock::duration>(limits_.idle_timeout).count()) {
    return Ending{kWorkerExitIdle, "idle timeout"};
  }
  return std::nullopt;
}

void WorkerWatchdog::EndNow(int exit_code, const std::string& reason) {
  LogEvent("worker_exit", {{"session", session_id_}, {"reason", reason}});
  // The main thread is inside the call; nothing of the session survives the process.
  ::_exit(exit_code);
}

void WorkerWatchdog::Watch() {
  while (!stop_.load()) {
    try {
      zmq::pollitem_t item{monitor_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, kWatchInterval);
      while (item.revents & ZMQ_POLLIN) {
        zmq::message_t event, address;
        if (!monitor_.recv(event, zmq::recv_flags::dontwait)) break;
        if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
        if (event.size() < 6) continue;
        uint16_t id = 0;
        int32_t fd = -1;
        std::memcpy(&id, event.data(), sizeof(id));
        std::memcpy(&fd, static_cast<const char*>(event.data()) + 2, sizeof(fd));
        if (id == ZMQ_EVENT_DISCONNECTED && fd >= 0 && fd == client_fd_.load()) {
          client_gone_.store(true);
        }
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
    }
    const int64_t started = call_started_.load();
    if (started == 0) continue;
    const int64_t now = Ticks(Clock::now());
    const auto grace = std::chrono::duration_cast<Clock::duration>(limits_.call_grace).count();
    const auto timeout = std::chrono::duration_cast<Clock::duration>(limits_.idle_timeout).count();
    if (client_gone_.load()) {
      EndNow(kWorkerExitClientGone, "client disconnected during a call");
    } else if (now > call_deadline_.load() + grace) {
      EndNow(kWorkerExitCallDeadline, "a call outlived its deadline by more than " +
                                          Describe(limits_.call_grace));
    } else if (now - started > timeout) {
      EndNow(kWorkerExitCallTimeout, "a call ran past the session timeout");
    }
  }
}

}  // namespace ferry::agent
