// Where `ferry run` and `ferry time` execute a model library: in this process, or in a
// session on a device agent (--agent), where the library is uploaded and loaded first.
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
};

// Reads --agent, --tracker, --key, --priority, --timeout and the security options
// (security_options.h). Errors: kInvalidArgument for
// --agent with --tracker, --tracker without --key, or bad numbers.
StatusOr<Placement> ParsePlacement(const util::ParsedArgs& parsed);
// The option specs ParsePlacement reads, for a command's option table.
std::vector<util::OptionSpec> PlacementOptionSpecs();

// Opens `library_path` per `placement`, picks the model (`name`, or the library's only one)
// and creates its executor on the target's CPU. Errors: those of loading, connecting,
// uploading, and kNotFound / kInvalidArgument for the model choice.
StatusOr<ModelTarget> OpenModelTarget(const std::string& library_path,
                                      const std::optional<std::string>& name,
                                      const Placement& placement);

}  // namespace ferry::cli

#endif  // FERRY_CLI_MODEL_TARGET_H_
