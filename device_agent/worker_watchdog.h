// WorkerWatchdog: decides when a session worker must end, including while a call is running.
//
// The worker's main thread serves one request at a time, so a long call (a kernel, a huge
// time_evaluator) blocks it. The watchdog's own thread watches the worker's ROUTER socket
// through its monitor and the clock, and ends the process (after logging why) when a running
// call outlives its deadline by a grace period, when the client's connection drops during the
// call, or when the call runs past the session timeout. Between calls the main thread asks
// ShouldEnd() and ends the session itself: client gone, no Hello in time, idle timeout.
// The agent turns the exit codes below into the reason a client reads from SessionStatus.
#ifndef FERRY_DEVICE_AGENT_WORKER_WATCHDOG_H_
#define FERRY_DEVICE_AGENT_WORKER_WATCHDOG_H_

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <zmq.hpp>

namespace ferry::agent {

// Exit codes of a session worker (0: closed by the client or the client went away).
inline constexpr int kWorkerExitIdle = 3;           // idle for the session timeout
inline constexpr int kWorkerExitNoHello = 4;        // no Hello within the hello timeout
inline constexpr int kWorkerExitCallDeadline = 5;   // a call outlived its deadline + grace
inline constexpr int kWorkerExitClientGone = 6;     // the client left during a call
inline constexpr int kWorkerExitCallTimeout = 7;    // a call ran past the session timeout

// The reason the agent reports for a worker's exit code ("" for codes it does not know).
std::string WorkerExitReason(int code);

struct WatchdogLimits {
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds hello_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds call_grace{std::chrono::seconds(5)};
};

class WorkerWatchdog {
 public:
  struct Ending {
    int exit_code = 0;
    std::string reason;
  };

  // Starts the watchdog thread on a PAIR socket connected to `monitor_endpoint`, where the
  // worker's ROUTER socket publishes ZMQ_EVENT_ACCEPTED and ZMQ_EVENT_DISCONNECTED.
  // Throws zmq::error_t when the endpoint cannot be connected.
  WorkerWatchdog(zmq::context_t& context, const std::string& monitor_endpoint,
                 WatchdogLimits limits, std::string session_id);
  // Stops and joins the thread.
  ~WorkerWatchdog();
  WorkerWatchdog(const WorkerWatchdog&) = delete;
  WorkerWatchdog& operator=(const WorkerWatchdog&) = delete;

  // The session is bound to the client connection with this file descriptor (ZMQ_SRCFD);
  // its disconnect ends the session.
  void Greeted(int connection_fd);
  // A request with `deadline_ms` starts / ended (main thread).
  void CallStarted(uint32_t deadline_ms);
  void CallEnded();

  // Why the session should end now, or nullopt (main thread, between calls).
  std::optional<Ending> ShouldEnd() const;

 private:
  using Clock = std::chrono::steady_clock;
  static int64_t Ticks(Clock::time_point t) { return t.time_since_epoch().count(); }
  void Watch();
  // Logs and exits the process (watchdog thread only).
  [[noreturn]] void EndNow(int exit_code, const std::string& reason);

  zmq::socket_t monitor_;
  WatchdogLimits limits_;
  std::string session_id_;
  const Clock::time_point started_ = Clock::now();
  std::atomic<bool> greeted_{false};
  std::atomic<int> client_fd_{-1};  // -1 also when ZeroMQ could not name it
  std::atomic<bool> client_gone_{false};
  std::atomic<int64_t> last_activity_{Ticks(Clock::now())};
  // While a call runs: when it started and when its caller's deadline passes; 0 otherwise.
  std::atomic<int64_t> call_started_{0};
  std::atomic<int64_t> call_deadline_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_WORKER_WATCHDOG_H_
