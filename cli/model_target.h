// Where `ferry run` and `ferry time` execute a model library: in this process, or in a
// session on a device agent (--agent), where the library is uploaded and loaded first; and
// on how many kernel threads (--threads, runtime/kernel_threads.h).
#ifndef FERRY_CLI_MODEL_TARGET_H_
#define FERRY_CLI_MODEL_TARGET_H_

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/security_options.h"
#include "rpc/client_session.h"
#include "util/arg_parser.h"
#include "runtime/executor_module.h"
#include "runtime/module.h"

namespace ferry::cli {

struct ModelTarget {
  std::optional<rpc::RemoteSession> remote;
  Module library;
  Device device;
  std::string key;
  ExecutorModule executor{Module()};
  // The kernel thread count the model runs with; 0 when the agent does not say.
  int threads = 0;

  // time_evaluator of the executor's `run`, where the executor lives.
  StatusOr<PackedFunc> RunTimer(TimeEvaluatorOptions options);
};

// Where to run: here (neither set), on `agent`, or on an agent of `key` granted by `tracker`.
struct Placement {
  std::optional<std::string> agent;
  std::optional<std::string> tracker;
  std::optional<std::string> key;
  int priority = 0;
  std::chrono::milliseconds timeout{60000};
  SecurityOptions security;
  // Kernel threads where the model runs (--threads). Unset: here FERRY_NUM_THREADS or the
  // CPU count, on an agent what the agent was started with.
  std::optional<int> threads;
};

// ", on N kernel threads" (N = target.threads), or "" when the count is unknown.
std::string ThreadsText(const ModelTarget& target);

// Reads --agent, --tracker, --key, --priority, --timeout, --threads and the security options
// (security_options.h). Errors: kInvalidArgument for
// --agent with --tracker, --tracker without --key, or bad numbers (--threads: 1 to 1024).
StatusOr<Placement> ParsePlacement(const util::ParsedArgs& parsed);
// The option specs ParsePlacement reads, for a command's option table.
std::vector<util::OptionSpec> PlacementOptionSpecs();

// Opens `library_path` per `placement`, picks the model (`name`, or the library's only one),
// sets the kernel thread count (here: SetKernelThreads; on an agent: the session's
// "ferry.set_threads") and creates its executor on the target's CPU. Errors: those of
// loading, connecting, uploading, kNotFound / kInvalidArgument for the model choice,
// kInvalidArgument for a malformed FERRY_NUM_THREADS (a local run without --threads), and
// kUnimplemented for --threads with an agent that has no "ferry.set_threads".
StatusOr<ModelTarget> OpenModelTarget(const std::string& library_path,
                                      const std::optional<std::string>& name,
                                      const Placement& placement);

}  // namespace ferry::cli

#endif  // FERRY_CLI_MODEL_TARGET_H_
