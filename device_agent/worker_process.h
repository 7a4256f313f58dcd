// Starting a session worker process: the agent's own executable re-run with
// `--session-worker`, the session token and the agent's CURVE secret key in its environment
// (not on its command line), and a pipe on which the worker reports the endpoint it bound
// and, later, that its client said Hello.
#ifndef FERRY_DEVICE_AGENT_WORKER_PROCESS_H_
#define FERRY_DEVICE_AGENT_WORKER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>

#include "device_agent/session_worker.h"
#include "runtime/status.h"

namespace ferry::agent {

struct StartedWorker {
  pid_t pid = -1;
  std::string endpoint;
  // The read end of the worker's report pipe (non-blocking, close-on-exec), owned by the
  // caller: the worker writes "HELLO\n" on it once its client is greeted.
  int report_fd = -1;
};

// Starts `executable` as the worker of `config` (its report_fd is set here) and waits up to
// `timeout` for its endpoint. Errors: kUnavailable when it cannot start or exits first,
// kDeadlineExceeded when it does not report in time (it is killed).
StatusOr<StartedWorker> StartWorkerProcess(const std::string& executable,
                                           const WorkerConfig& config,
                                           std::chrono::milliseconds timeout);

// Parses the worker's command line (argv after "--session-worker"; `--threads N` only when
// config.kernel_threads > 0), the token and secret key from the environment
// (FERRY_SESSION_TOKEN, FERRY_SESSION_SECRET_KEY), which it then clears.
// Errors: kInvalidArgument.
StatusOr<WorkerConfig> ParseWorkerArgs(int argc, char** argv);

// "SIGSEGV" for 11, "signal 42" when there is no name.
std::string SignalName(int signal);

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_WORKER_PROCESS_H_
