#include "runtime/library_module.h"

#include <map>

#include "runtime/aot_executor.h"
#include "runtime/graph_executor.h"
#include "runtime/kernels/kernel_abi.h"
#include "runtime/shared_library.h"
#include "runtime/value.h"

namespace ferry {
namespace {

// Creates executors of one model: `factory(device) -> executor`.
PackedFunc MakeFactoryFunction(ObjectPtr<SharedLibrary> library,
                               std::shared_ptr<const ModelRecord> record) {
  return PackedFunc([library, record](std::span<const Value> args) -> StatusOr<Value> {
    RETURN_IF_ERROR(CheckArgCount(record->key, args, 1));
    ASSIGN_OR_RETURN(Device device, GetArg<Device>(record->key, args, 0));
    if (device.type != kDLCPU) {
      return UnimplementedError("model '" + record->key + "' cannot run on " +
                                device.ToString() + ": its kernels are CPU kernels");
    }
    StatusOr<Module> executor = record->executor == ExecutorKind::kAot
                                    ? CreateAotExecutor(library, record)
                                    : CreateGraphExecutor(library, record);
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
  FactoryModuleNode(ObjectPtr<SharedLibrary> library, std::shared_ptr<const ModelRecord> record)
      : record_(record), factory_(MakeFactoryFunction(std::move(library), std::move(record))) {}

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
  LibraryModuleNode(ObjectPtr<SharedLibrary> library,
                    std::shared_ptr<const LibraryManifest> manifest)
      : library_(std::move(library)), manifest_(std::move(manifest)) {
    for (const ModelRecord& record : manifest_->models) {
      // Aliasing shared_ptr: each record keeps the whole manifest alive.
      std::shared_ptr<const ModelRecord> shared(manifest_, &record);
      factories_.emplace(record.key, MakeFactoryFunction(library_, shared));
      Import(Module(MakeObject<FactoryModuleNode>(library_, shared)));
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
  StatusOr<LibraryManifest> manifest = ParseManifest(*blob);
  if (!manifest.ok()) return manifest.status().WithContext(path);
  auto shared = std::make_shared<const LibraryManifest>(std::move(*manifest));
  return Module(MakeObject<LibraryModuleNode>(std::move(library), std::move(shared)));
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
