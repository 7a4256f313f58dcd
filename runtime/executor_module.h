// ExecutorModule: the common path over an executor Module in one line each, like TVM's
// GraphModule. It only calls the executor's PackedFuncs (executor_node.h), so it works the
// same on any module that provides them.
//
//   ferry::Module lib = ferry::LoadModule("m.so").value();
//   ferry::ExecutorModule gmod(lib.GetFunction("mlp").value()(ferry::Device::Cpu()).As<Module>());
//   gmod.SetInput("data", x); gmod.Run(); NDArray y = gmod.GetOutput(0).value();
#ifndef FERRY_RUNTIME_EXECUTOR_MODULE_H_
#define FERRY_RUNTIME_EXECUTOR_MODULE_H_

#include <string>
#include <vector>

#include "runtime/executor_node.h"
#include "runtime/module.h"
#include "runtime/value.h"

namespace ferry {

class ExecutorModule {
 public:
  explicit ExecutorModule(Module module) : module_(std::move(module)) {}

  // Creates model `key` of `library` on `device`.
  static StatusOr<ExecutorModule> Create(const Module& library, const std::string& key,
                                         Device device);

  Status SetInput(const std::string& name, const NDArray& value) const;
  Status SetInput(int index, const NDArray& value) const;
  Status Run() const;
  StatusOr<NDArray> GetOutput(int index) const;
  StatusOr<NDArray> GetInput(const std::string& name) const;
  StatusOr<int> GetNumInputs() const;
  StatusOr<int> GetNumOutputs() const;
  StatusOr<std::vector<TensorSpec>> GetInputInfo() const;
  StatusOr<std::vector<TensorSpec>> GetOutputInfo() const;
  // `bytes` in the params format (params.h), e.g. the contents of `<library>.params`.
  Status LoadParams(std::string bytes) const;

  const Module& module() const { return module_; }

 private:
  StatusOr<Value> Call(const char* name, std::span<const Value> args) const;
  Module module_;
};

}  // namespace ferry

#endif  // FERRY_RUNTIME_EXECUTOR_MODULE_H_
