// Where `ferry run` and `ferry time` execute a model library: in this process, or in a
// session on a device agent (--agent), where the library is uploaded and loaded first.
#ifndef FERRY_CLI_MODEL_TARGET_H_
#define FERRY_CLI_MODEL_TARGET_H_

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "rpc/client_session.h"
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

// Opens `library_path` locally or on `agent`, picks the model (`name`, or the library's only
// one) and creates its executor on the target's CPU. Errors: those of loading, connecting,
// uploading, and kNotFound / kInvalidArgument for the model choice.
StatusOr<ModelTarget> OpenModelTarget(const std::string& library_path,
                                      const std::optional<std::string>& name,
                                      const std::optional<std::string>& agent,
                                      std::chrono::milliseconds timeout);

}  // namespace ferry::cli

#endif  // FERRY_CLI_MODEL_TARGET_H_
