#include "runtime/library_module.h"

#include <map>

#include "runtime/aot_executor.h"
#include "runtime/graph_executor.h"
#include "runtime/kernels/kernel_abi.h"
#include "runtime/params.h"
#include "runtime/shared_library.h"
#include "runtime/value.h"

namespace ferry {
namespace {

// A loaded library: the mapping, its manifest, whose records reference the mapping, and each
// model's packaged parameters, arrays that reference the mapping too (ParseParamsInPlace).
// Shared by the library module, its factories and what GetLibraryManifest hands out.
struct LoadedLibrary {
  ObjectPtr<SharedLibrary> library;
  LibraryManifest manifest;
  // Per model, in manifest order; empty for a model without packaged parameters.
  std::vector<ParamMap> params;
};

// Creates executors of one model: `factory(device) -> executor`. Every executor uses the
// same packaged parameter arrays.
PackedFunc MakeFactoryFunction(ObjectPtr<SharedLibrary> library,
                               std::shared_ptr<const ModelRecord> record,
                               std::shared_ptr<const ParamMap> params) {
  return PackedFunc([library, record, params](std::span<const Value> args) -> StatusOr<Value> {
    RETURN_IF_ERROR(CheckArgCount(record->key, args, 1));
    ASSIGN_OR_RETURN(Device device, GetArg<Device>(record->key, args, 0));
    if (device.type != kDLCPU) {
      return UnimplementedError("model '" + record->key + "' cannot run on " +
                                device.ToString() + ": its kernels are CPU kernels");
    }
    StatusOr<Module> executor = record->executor == ExecutorKind::kAot
                                    ? CreateAotExecutor(library, record, *params)
                                    : CreateGraphExecutor(library, record, *params);
    if (!executor.ok()) return executor.status().WithContext("creating '" + record->key + "'");
    return Value(*executor);
  });
}

// Calls one operator function over NDArrays.
PackedFunc MakeKernelFunction(ObjectPtr<SharedLibrary> library, std::string name,
                              FerryOpFunc func, size_t arity) {
  return PackedFunc([library, name, func, arity](std::span<const Value> args) -> StatusOr<Value> {
    RETURN_IF_ERROR(CheckArgCount(name, args, arity));
    std::vector<NDArray> arrays;
    std::vector<DLTensor*> tensors;
    for (size_t i = 0; i < args.size(); ++i) {
      ASSIGN_OR_RETURN(NDArray array, GetArg<NDArray>(name, args, i));
      if (array.is_null()) return InvalidArgumentError(name + ": argument " + std::to_string(i) + " is null");
      tensors.push_back(array.dl_tensor());
      arrays.push_back(std::move(array));
    }
    FerryKernelError error;
    error.message[0] = '\0';
    if (func(tensors.data(), static_cast<int32_t>(tensors.size()), &error) != 0) {
      return InvalidArgumentError(name + ": " + error.message);
    }
    return Value();
  });
}

class FactoryModuleNode final : public ModuleNode {
 public:
  FactoryModuleNode(std::shared_ptr<const ModelRecord> record, PackedFunc factory)
      : record_(std::move(record)), factory_(std::move(factory)) {}

  std::string type_key() const override {
    return std::string(ExecutorKindName(record_->executor)) + "_executor_factory";
  }
  std::optional<PackedFunc> GetFunction(const std::string& name) override {
    if (name == record_->key) return factory_;
    return std::nullopt;
  }
  std::vector<std::string> ListFunctions() const override { return {record_->key}; }

 private:
  std::shared_ptr<const ModelRecord> record_;
  PackedFunc factory_;
};

class LibraryModuleNode final : public ModuleNode {
 public:
  explicit LibraryModuleNode(std::shared_ptr<const LoadedLibrary> loaded)
      : library_(loaded->library), manifest_(loaded, &loaded->manifest) {
    for (size_t i = 0; i < manifest_->models.size(); ++i) {
      const ModelRecord& record = manifest_->models[i];
      // Aliasing shared_ptrs: each record and parameter set keeps the whole library alive.
      std::shared_ptr<const ModelRecord> shared(loaded, &record);
      PackedFunc factory = MakeFactoryFunction(
          library_, shared, std::shared_ptr<const ParamMap>(loaded, &loaded->params[i]));
      factories_.emplace(record.key, factory);
      Import(Module(MakeObject<FactoryModuleNode>(shared, factory)));
      for (const GraphNode& node : record.graph.nodes) {
        kernel_arity_.emplace(node.func_name, node.inputs.size() + node.outputs.size());
      }
    }
  }

  std::string type_key() const override { return "library"; }

  std::optional<PackedFunc> GetFunction(const std::string& name) override {
    if (auto it = factories_.find(name); it != factories_.end()) return it->second;
    auto arity = kernel_arity_.find(name);
    if (arity == kernel_arity_.end()) return std::nullopt;
    auto func = reinterpret_cast<FerryOpFunc>(library_->FindSymbol(name));
    if (func == nullptr) return std::nullopt;
    return MakeKernelFunction(library_, name, func, arity->second);
  }

  std::vector<std::string> ListFunctions() const override {
    std::vector<std::string> names;
    for (const auto& [key, factory] : factories_) names.push_back(key);
    for (const auto& [name, arity] : kernel_arity_) names.push_back(name);
    return names;
  }

  const std::shared_ptr<const LibraryManifest>& manifest() const { return manifest_; }

 private:
  ObjectPtr<SharedLibrary> library_;
  std::shared_ptr<const LibraryManifest> manifest_;
  std::map<std::string, PackedFunc> factories_;
  std::map<std::string, size_t> kernel_arity_;
};

}  // namespace

StatusOr<Module> LoadModule(const std::string& path) {
  ASSIGN_OR_RETURN(ObjectPtr<SharedLibrary> library, SharedLibrary::Open(path));
  StatusOr<std::string_view> blob = library->FindDataSymbol(kManifestSymbol);
  if (!blob.ok()) {
    return InvalidArgumentError(path + " is not a Ferry model library (it has no " +
                                kManifestSymbol + " symbol)");
  }
  // The records and parameters reference the blob where the dynamic loader mapped it: no
  // copy, and no checksum pass over the parameters (the header's checksum covers the
  // records). The mapping is read-only; executors never write into it (executor_node.h).
  StatusOr<LibraryManifest> manifest = ParseManifestInPlace(*blob);
  if (!manifest.ok()) return manifest.status().WithContext(path);
  auto loaded = std::make_shared<LoadedLibrary>();
  loaded->library = library;
  loaded->manifest = std::move(*manifest);
  loaded->params.resize(loaded->manifest.models.size());
  for (size_t i = 0; i < loaded->manifest.models.size(); ++i) {
    const ModelRecord& record = loaded->manifest.models[i];
    if (!record.params_packaged) continue;
    StatusOr<ParamMap> params = ParseParamsInPlace(record.packaged_params(), library);
    if (!params.ok()) {
      return params.status()
          .WithContext("model library manifest, model '" + record.key + "' packaged parameters")
          .WithContext(path);
    }
    loaded->params[i] = std::move(*params);
  }
  return Module(MakeObject<LibraryModuleNode>(std::move(loaded)));
}

StatusOr<std::shared_ptr<const LibraryManifest>> GetLibraryManifest(const Module& module) {
  auto* node = dynamic_cast<LibraryModuleNode*>(module.get());
  if (node == nullptr) {
    return InvalidArgumentError("module of type '" + (module.is_null() ? std::string("null") : module.type_key()) +
                                "' is not a model library");
  }
  return node->manifest();
}

}  // namespace ferry
