#include "runtime/executor_module.h"

namespace ferry {

StatusOr<ExecutorModule> ExecutorModule::Create(const Module& library, const std::string& key,
                                                Device device) {
  ASSIGN_OR_RETURN(PackedFunc factory, library.GetFunction(key, /*query_imports=*/true));
  ASSIGN_OR_RETURN(Value executor, factory.Call(device));
  ASSIGN_OR_RETURN(Module module, executor.As<Module>());
  return ExecutorModule(std::move(module));
}

StatusOr<Value> ExecutorModule::Call(const char* name, std::span<const Value> args) const {
  ASSIGN_OR_RETURN(PackedFunc func, module_.GetFunction(name));
  return func.CallPacked(args);
}

Status ExecutorModule::SetInput(const std::string& name, const NDArray& value) const {
  const Value args[] = {name, value};
  return Call("set_input", args).status();
}

Status ExecutorModule::SetInput(int index, const NDArray& value) const {
  const Value args[] = {index, value};
  return Call("set_input", args).status();
}

Status ExecutorModule::Run() const { return Call("run", {}).status(); }

StatusOr<NDArray> ExecutorModule::GetOutput(int index) const {
  const Value args[] = {index};
  ASSIGN_OR_RETURN(Value out, Call("get_output", args));
  return out.As<NDArray>();
}

StatusOr<NDArray> ExecutorModule::GetInput(const std::string& name) const {
  const Value args[] = {name};
  ASSIGN_OR_RETURN(Value in, Call("get_input", args));
  return in.As<NDArray>();
}

StatusOr<int> ExecutorModule::GetNumInputs() const {
  ASSIGN_OR_RETURN(Value n, Call("get_num_inputs", {}));
  return n.As<int>();
}

StatusOr<int> ExecutorModule::GetNumOutputs() const {
  ASSIGN_OR_RETURN(Value n, Call("get_num_outputs", {}));
  return n.As<int>();
}

StatusOr<std::vector<TensorSpec>> ExecutorModule::GetInputInfo() const {
  ASSIGN_OR_RETURN(Value text, Call("get_input_info", {}));
  ASSIGN_OR_RETURN(std::string s, text.As<std::string>());
  return ParseTensorSpecs(s);
}

StatusOr<std::vector<TensorSpec>> ExecutorModule::GetOutputInfo() const {
  ASSIGN_OR_RETURN(Value text, Call("get_output_info", {}));
  ASSIGN_OR_RETURN(std::string s, text.As<std::string>());
  return ParseTensorSpecs(s);
}

Status ExecutorModule::LoadParams(std::string bytes) const {
  const Value args[] = {Bytes{std::move(bytes)}};
  return Call("load_params", args).status();
}

}  // namespace ferry
