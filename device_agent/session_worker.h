// The session worker: the process that serves one client session. The agent starts it
// (worker_process.h); it binds a ROUTER socket of its own on the agent's host, reports the
// endpoint on `report_fd`, and serves the client directly, so calls never pass through the
// agent. Uploaded code runs here: if it crashes, only this session ends.
//
// It exits when the client closes the session, when the client's connection drops, after
// `idle_timeout` without a request, or when the agent dies (PR_SET_PDEATHSIG).
#ifndef FERRY_DEVICE_AGENT_SESSION_WORKER_H_
#define FERRY_DEVICE_AGENT_SESSION_WORKER_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace ferry::agent {

struct WorkerConfig {
  std::string session_id;
  std::string sessions_root;  // the session directory is <sessions_root>/<session_id>
  std::string cache_dir;
  std::string bind_host = "127.0.0.1";
  std::string token;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  int report_fd = -1;
  int64_t max_message_bytes = int64_t{1} << 30;
  uint64_t max_upload_bytes = uint64_t{16} << 30;
};

// The worker's exit code when it ended the session after its idle timeout (0 when the
// client closed it or went away).
inline constexpr int kWorkerExitIdle = 3;

// Runs the worker until the session ends; returns the process exit code.
int RunSessionWorker(const WorkerConfig& config);

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_SESSION_WORKER_H_
