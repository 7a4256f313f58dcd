// The session worker: the process that serves one client session. The agent starts it
// (worker_process.h); it binds a ROUTER socket of its own on the agent's host, reports the
// endpoint on `report_fd`, and serves the client directly, so calls never pass through the
// agent. Uploaded code runs here: if it crashes, only this session ends.
//
// The session belongs to the connection whose Hello carried the token: with CURVE the socket
// admits only the key that opened the session, and in any mode the worker serves only the
// connection (routing id) that said Hello. After a correct Hello it writes "HELLO" on
// `report_fd`, so the agent knows the session is claimed.
//
// It exits when the client closes the session, when the client's connection drops, after
// `idle_timeout` without a request, when no Hello comes within `hello_timeout`, when a call
// outlives its deadline by `call_grace` or the client leaves during it (worker_watchdog.h),
// or when the agent dies (PR_SET_PDEATHSIG). It runs under resource limits: no core dumps,
// at most `max_open_files` descriptors, and `max_address_space` bytes of address space.
#ifndef FERRY_DEVICE_AGENT_SESSION_WORKER_H_
#define FERRY_DEVICE_AGENT_SESSION_WORKER_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "device_agent/worker_watchdog.h"

namespace ferry::agent {

struct WorkerConfig {
  std::string session_id;
  std::string sessions_root;  // the session directory is <sessions_root>/<session_id>
  std::string cache_dir;
  std::string bind_host = "127.0.0.1";
  std::string token;
  WatchdogLimits limits;
  int report_fd = -1;
  int64_t max_message_bytes = int64_t{1} << 30;
  uint64_t max_upload_bytes = uint64_t{16} << 30;
  uint64_t cache_max_bytes = 0;      // the whole upload cache; 0: unlimited
  uint64_t session_quota_bytes = 0;  // this session's files; 0: unlimited
  // CURVE: the agent's secret key (from the environment, like the token) and the public key
  // of the client that opened the session, the only one admitted. Both empty: plaintext.
  std::string secret_key;
  std::string client_key;
  // Resource limits (0: leave as inherited).
  uint64_t max_address_space = 0;
  uint64_t max_open_files = 1024;
  // Kernel threads (runtime/kernel_threads.h), set before serving; 0: the default.
  int kernel_threads = 0;
};

// Runs the worker until the session ends; returns the process exit code.
int RunSessionWorker(const WorkerConfig& config);

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_SESSION_WORKER_H_
