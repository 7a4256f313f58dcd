#include "cli/model_target.h"

#include "cli/commands.h"
#include "rpc/tracker_client.h"
#include "runtime/kernel_threads.h"
#include "runtime/library_module.h"

namespace ferry::cli {
namespace {

// The model key: `name` when given and present, else the library's only model. The manifest
// is read from the local file, also when the model runs remotely.
StatusOr<std::string> ChooseModel(const std::string& library_path,
                                  const std::optional<std::string>& name) {
  ASSIGN_OR_RETURN(Module local, LoadModule(library_path));
  ASSIGN_OR_RETURN(auto manifest, GetLibraryManifest(local));
  std::string keys;
  for (const ModelRecord& m : manifest->models) {
    if (name && m.key == *name) return *name;
    keys += (keys.empty() ? "" : ", ") + m.key;
  }
  if (name) return NotFoundError("the library has no model '" + *name + "' (models: " + keys + ")");
  if (manifest->models.size() != 1) {
    return InvalidArgumentError("the library holds several models (" + keys +
                                "); pick one with --name");
  }
  return manifest->models[0].key;
}

// Applies `requested` in the session's worker ("ferry.set_threads") and returns the count
// the worker runs with ("ferry.get_threads"; 0 from an agent too old to say).
StatusOr<int> SetRemoteThreads(rpc::RemoteSession& session, std::optional<int> requested) {
  if (requested) {
    StatusOr<PackedFunc> set = session.GetFunction("ferry.set_threads");
    if (set.status().code() == StatusCode::kNotFound) {
      return UnimplementedError("the agent cannot set kernel threads (no ferry.set_threads); "
                                "start it with --threads instead");
    }
    RETURN_IF_ERROR(set.status());
    RETURN_IF_ERROR(set->Call(*requested).status());
  }
  StatusOr<PackedFunc> get = session.GetFunction("ferry.get_threads");
  if (get.status().code() == StatusCode::kNotFound) return requested.value_or(0);
  RETURN_IF_ERROR(get.status());
  ASSIGN_OR_RETURN(Value threads, get->Call());
  return threads.As<int>();
}

}  // namespace

StatusOr<PackedFunc> ModelTarget::RunTimer(TimeEvaluatorOptions options) {
  if (remote) return remote->TimeEvaluator(executor.module(), "run", device, options);
  return TimeEvaluator(executor.module(), "run", device, options);
}

std::string ThreadsText(const ModelTarget& target) {
  if (target.threads <= 0) return "";
  return ", on " + std::to_string(target.threads) + " kernel thread" +
         (target.threads == 1 ? "" : "s");
}

std::vector<util::OptionSpec> PlacementOptionSpecs() {
  std::vector<util::OptionSpec> specs = {
      {"agent", "", true, "ENDPOINT  run on the device agent at ENDPOINT (tcp://HOST:PORT)"},
      {"tracker", "", true, "ENDPOINT  run on an agent granted by the tracker at ENDPOINT"},
      {"key", "", true, "KEY  the device key to request from the tracker"},
      {"priority", "", true, "N  the request's priority at the tracker (default 0)"},
      {"timeout", "", true, "SECONDS  deadline of each remote call and of the request (60)"},
      {"threads", "", true,
       "N  kernel threads where the model runs (default: FERRY_NUM_THREADS, else the CPU "
       "count; on an agent, the agent's --threads)"},
  };
  for (util::OptionSpec& spec : SecurityOptionSpecs()) specs.push_back(std::move(spec));
  return specs;
}

StatusOr<Placement> ParsePlacement(const util::ParsedArgs& parsed) {
  Placement placement;
  placement.agent = parsed.Get("agent");
  placement.tracker = parsed.Get("tracker");
  placement.key = parsed.Get("key");
  if (placement.agent && placement.tracker) {
    return InvalidArgumentError("give --agent or --tracker, not both");
  }
  if (placement.tracker && !placement.key) return InvalidArgumentError("--tracker needs --key");
  if (placement.key && !placement.tracker) return InvalidArgumentError("--key needs --tracker");
  ASSIGN_OR_RETURN(placement.timeout, ParseTimeout(parsed.Get("timeout")));
  ASSIGN_OR_RETURN(placement.security, ParseSecurityOptions(parsed));
  if (auto text = parsed.Get("threads")) {
    ASSIGN_OR_RETURN(placement.threads, ParseKernelThreads(*text, "--threads"));
  }
  if (auto text = parsed.Get("priority")) {
    try {
      size_t used = 0;
      placement.priority = std::stoi(*text, &used);
      if (used != text->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return InvalidArgumentError("--priority must be an integer");
    }
  }
  return placement;
}

StatusOr<ModelTarget> OpenModelTarget(const std::string& library_path,
                                      const std::optional<std::string>& name,
                                      const Placement& placement) {
  ModelTarget target;
  ASSIGN_OR_RETURN(target.key, ChooseModel(library_path, name));
  if (placement.agent || placement.tracker) {
    rpc::ConnectOptions options;
    options.timeout = placement.timeout;
    std::optional<rpc::RemoteSession> opened;
    if (placement.tracker) {
      ASSIGN_OR_RETURN(options, placement.security.ForTracker(std::move(options)));
      ASSIGN_OR_RETURN(rpc::TrackerClient tracker, rpc::ConnectTracker(*placement.tracker, options));
      rpc::DeviceRequest request;
      request.priority = placement.priority;
      request.timeout = placement.timeout;
      ASSIGN_OR_RETURN(rpc::RemoteSession granted, tracker.Request(*placement.key, request));
      opened.emplace(std::move(granted));
    } else {
      ASSIGN_OR_RETURN(options, placement.security.ForAgent(std::move(options)));
      ASSIGN_OR_RETURN(rpc::RemoteSession direct, rpc::Connect(*placement.agent, options));
      opened.emplace(std::move(direct));
    }
    rpc::RemoteSession& session = *opened;
    RETURN_IF_ERROR(session.Upload(library_path));
    const std::string label = std::filesystem::path(library_path).filename().string();
    ASSIGN_OR_RETURN(target.library, session.LoadModule(label));
    target.device = session.Cpu(0);
    ASSIGN_OR_RETURN(target.threads, SetRemoteThreads(session, placement.threads));
    target.remote.emplace(std::move(session));
  } else {
    ASSIGN_OR_RETURN(target.library, LoadModule(library_path));
    target.device = Device::Cpu();
    if (placement.threads) {
      target.threads = *placement.threads;
    } else {
      ASSIGN_OR_RETURN(target.threads, DefaultKernelThreads());
    }
    RETURN_IF_ERROR(SetKernelThreads(target.threads));
  }
  ASSIGN_OR_RETURN(target.executor, ExecutorModule::Create(target.library, target.key, target.device));
  return target;
}

}  // namespace ferry::cli
