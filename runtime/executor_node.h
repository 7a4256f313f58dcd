// ExecutorNode: what the graph and AOT executors share: the model's inputs, parameters and
// outputs as arrays, and the functions of the executor interface.
//
// Functions (PackedFunc names, arguments -> result):
//   set_input(name|index, NDArray)   copies into the input; shape and dtype must match
//   get_input(name|index) -> NDArray the input array itself
//   get_output(index) -> NDArray     the output array itself; the next run overwrites it
//   run()                            fails with kFailedPrecondition naming a parameter that
//                                    was never set
//   get_num_inputs() -> int, get_num_outputs() -> int
//   get_input_name(index) -> string
//   get_input_info() -> string, get_output_info() -> string
//                                    one line per tensor: "name<TAB>dtype<TAB>d0,d1,...\n"
//                                    (outputs are named output_0, output_1, ...)
//   load_params(bytes)               the params format (params.h); arrays named like a
//                                    parameter of the model must match its shape and dtype
//                                    (checked for all before any is applied); other names are
//                                    skipped (a bundle shares one file)
// Packaged parameters are not copied: the executor uses the library's arrays, which lie in
// its read-only mapping and are shared by every executor of the model. Nothing writes into
// them: load_params gives a packaged parameter an array of this executor's own instead
// (copy on write), and no function returns a parameter array.
// Executors are not thread-safe: one caller at a time.
#ifndef FERRY_RUNTIME_EXECUTOR_NODE_H_
#define FERRY_RUNTIME_EXECUTOR_NODE_H_

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/library_manifest.h"
#include "runtime/module.h"
#include "runtime/ndarray.h"
#include "runtime/params.h"
#include "runtime/shared_library.h"
#include "runtime/value.h"

namespace ferry {

class ExecutorNode : public ModuleNode {
 public:
  std::optional<PackedFunc> GetFunction(const std::string& name) override;
  std::vector<std::string> ListFunctions() const override;

  // The array of parameter `name`, or a null array when the model has no such parameter. For
  // in-process inspection (tests, tools): a packaged parameter's array is the library's, in
  // its read-only mapping and shared with other executors, so never write into it. No
  // executor function returns parameter arrays, so remote callers cannot reach them.
  NDArray GetParamArray(std::string_view name) const;

 protected:
  ExecutorNode(ObjectPtr<SharedLibrary> library, std::shared_ptr<const ModelRecord> record);

  // Allocates inputs (zeroed) and outputs on the CPU. Parameters named in `packaged` (the
  // library's, usually referencing its read-only mapping) use those arrays, shared and never
  // written; the others get arrays of their own for load_params to fill. Errors: a packaged
  // array whose shape or dtype differs from the graph's; allocation errors. Subclasses call it
  // from their factory before Prepare-ing themselves, then BindArrays.
  Status AllocateModelArrays(const ParamMap& packaged);
  // Runs every node once; called by run() after the parameter check.
  virtual Status Execute() = 0;
  // (Re)derives what the subclass keeps from entry_array() (DLTensor pointers): called by the
  // subclass once prepared, and by load_params after it replaced shared parameter arrays.
  virtual void BindArrays() = 0;

  const ExecGraph& graph() const { return record_->graph; }
  const ModelRecord& record() const { return *record_; }
  SharedLibrary& library() const { return *library_; }
  // The array of graph entry `entry` when it is an input, parameter or output; null otherwise.
  const NDArray& entry_array(uint32_t entry) const { return entry_arrays_[entry]; }
  void set_entry_array(uint32_t entry, NDArray array) { entry_arrays_[entry] = std::move(array); }

  // "<type key> '<model key>'" for messages.
  std::string Describe() const;

 private:
  using Method = StatusOr<Value> (ExecutorNode::*)(std::span<const Value>);
  struct MethodEntry {
    const char* name;
    Method method;
  };
  static const MethodEntry kMethods[];

  StatusOr<size_t> ResolveInput(std::string_view function, const Value& which) const;
  // load_params' work. Where a parameter's array is the library's, the array of `params`
  // (CPU arrays nobody else holds, as ParseParams makes them) replaces it; other parameters
  // are copied into.
  Status ApplyParams(ParamMap params);

  StatusOr<Value> SetInput(std::span<const Value> args);
  StatusOr<Value> GetInput(std::span<const Value> args);
  StatusOr<Value> GetOutput(std::span<const Value> args);
  StatusOr<Value> Run(std::span<const Value> args);
  StatusOr<Value> GetNumInputs(std::span<const Value> args);
  StatusOr<Value> GetNumOutputs(std::span<const Value> args);
  StatusOr<Value> GetInputName(std::span<const Value> args);
  StatusOr<Value> GetInputInfo(std::span<const Value> args);
  StatusOr<Value> GetOutputInfo(std::span<const Value> args);
  StatusOr<Value> LoadParams(std::span<const Value> args);

  ObjectPtr<SharedLibrary> library_;
  std::shared_ptr<const ModelRecord> record_;
  std::vector<NDArray> entry_arrays_;
  std::vector<bool> param_set_;
  // Per parameter: its array is the library's (shared, maybe read-only), not this executor's.
  std::vector<bool> param_shared_;
};

// Parses the text of get_input_info / get_output_info.
struct TensorSpec {
  std::string name;
  TensorInfo info;
};
StatusOr<std::vector<TensorSpec>> ParseTensorSpecs(std::string_view text);

}  // namespace ferry

#endif  // FERRY_RUNTIME_EXECUTOR_NODE_H_
