#include "cli/model_target.h"

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

}  // namespace

StatusOr<PackedFunc> ModelTarget::RunTimer(TimeEvaluatorOptions options) {
  if (remote) return remote->TimeEvaluator(executor.module(), "run", device, options);
  return TimeEvaluator(executor.module(), "run", device, options);
}

StatusOr<ModelTarget> OpenModelTarget(const std::string& library_path,
                                      const std::optional<std::string>& name,
                                      const std::optional<std::string>& agent,
                                      std::chrono::milliseconds timeout) {
  ModelTarget target;
  ASSIGN_OR_RETURN(target.key, ChooseModel(library_path, name));
  if (agent) {
    rpc::ConnectOptions options;
    options.timeout = timeout;
    ASSIGN_OR_RETURN(rpc::RemoteSession session, rpc::Connect(*agent, options));
    RETURN_IF_ERROR(session.Upload(library_path));
    const std::string label = std::filesystem::path(library_path).filename().string();
    ASSIGN_OR_RETURN(target.library, session.LoadModule(label));
    target.device = session.Cpu(0);
    target.remote.emplace(std::move(session));
  } else {
    ASSIGN_OR_RETURN(target.library, LoadModule(library_path));
    target.device = Device::Cpu();
  }
  ASSIGN_OR_RETURN(target.executor, ExecutorModule::Create(target.library, target.key, target.device));
  return target;
}

}  // namespace ferry::cli
