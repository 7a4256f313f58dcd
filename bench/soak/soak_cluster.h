// SoakCluster: the real processes of a soak, on ephemeral loopback ports in one directory: a
// ferry-tracker with a shared secret and real ferry-agents registered with it under one key.
// The destructor stops the agents (SIGTERM, then SIGKILL after 5 s), then the tracker.
#ifndef FERRY_BENCH_SOAK_SOAK_CLUSTER_H_
#define FERRY_BENCH_SOAK_SOAK_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/status.h"

namespace ferry::soak {

struct ClusterOptions {
  std::string tracker_path;  // the ferry-tracker binary
  std::string agent_path;    // the ferry-agent binary
  // Each daemon's command line is prefixed with its wrapper when one is given: an absolute
  // executable and its arguments, e.g. {"/usr/bin/env", "MALLOC_ARENA_MAX=1"} or a script
  // that starts a profiler's reader and execs its arguments under the profiler's preload
  // library. The resources sampled are the spawned process's: the daemon's own under a
  // wrapper that execs it, the wrapper's otherwise (so heaptrack's own script does not fit).
  std::vector<std::string> tracker_wrapper;
  std::vector<std::string> agent_wrapper;
  std::string dir;           // secret, endpoint files, logs and agent work directories
  std::string secret;        // at least 32 bytes
  int agents = 4;
  std::string key = "soak";  // the real agents' key
  std::chrono::milliseconds heartbeat{500};
  int session_timeout_s = 30;  // the agents' idle-session timeout
};

struct ClusterProcess {
  std::string name;      // "tracker", "agent0", ...
  pid_t pid = -1;
  std::string endpoint;  // bound (and advertised) endpoint
  std::string log;       // stdout + stderr
};

class SoakCluster {
 public:
  // Starts the tracker, then the agents, each waited for (its endpoint file) for up to 10 s.
  // Errors: kUnavailable (a process exited first, with its log), kDeadlineExceeded.
  static StatusOr<std::unique_ptr<SoakCluster>> Start(const ClusterOptions& options);
  ~SoakCluster() { Stop(); }
  SoakCluster(const SoakCluster&) = delete;
  SoakCluster& operator=(const SoakCluster&) = delete;

  // Stops every process (agents first) and reaps it. Idempotent.
  void Stop();

  const ClusterProcess& tracker() const { return tracker_; }
  const std::vector<ClusterProcess>& agents() const { return agents_; }
  // The names of the processes that have exited (none, while all run).
  std::vector<std::string> ExitedProcesses() const;

 private:
  explicit SoakCluster(ClusterOptions options) : options_(std::move(options)) {}
  StatusOr<ClusterProcess> Spawn(const std::string& name, std::vector<std::string> args);

  ClusterOptions options_;
  ClusterProcess tracker_;
  std::vector<ClusterProcess> agents_;
  bool stopped_ = false;
};

}  // namespace ferry::soak

#endif  // FERRY_BENCH_SOAK_SOAK_CLUSTER_H_
