#include "runtime/executor_node.h"

#include <charconv>
#include <cstring>

#include "runtime/kernel_threads.h"

namespace ferry {

const ExecutorNode::MethodEntry ExecutorNode::kMethods[] = {
    {"set_input", &ExecutorNode::SetInput},
    {"get_input", &ExecutorNode::GetInput},
    {"get_output", &ExecutorNode::GetOutput},
    {"run", &ExecutorNode::Run},
    {"get_num_inputs", &ExecutorNode::GetNumInputs},
    {"get_num_outputs", &ExecutorNode::GetNumOutputs},
    {"get_input_name", &ExecutorNode::GetInputName},
    {"get_input_info", &ExecutorNode::GetInputInfo},
    {"get_output_info", &ExecutorNode::GetOutputInfo},
    {"load_params", &ExecutorNode::LoadParams},
};

ExecutorNode::ExecutorNode(ObjectPtr<SharedLibrary> library,
                           std::shared_ptr<const ModelRecord> record)
    : library_(std::move(library)), record_(std::move(record)) {}

std::optional<PackedFunc> ExecutorNode::GetFunction(const std::string& name) {
  for (const MethodEntry& entry : kMethods) {
    if (name == entry.name) {
      ObjectPtr<ExecutorNode> self(this);
      Method method = entry.method;
      return PackedFunc([self, method](std::span<const Value> args) {
        return ((*self).*method)(args);
      });
    }
  }
  return std::nullopt;
}

std::vector<std::string> ExecutorNode::ListFunctions() const {
  std::vector<std::string> names;
  for (const MethodEntry& entry : kMethods) names.emplace_back(entry.name);
  return names;
}

NDArray ExecutorNode::GetParamArray(std::string_view name) const {
  for (const NamedEntry& p : graph().params) {
    if (p.name == name) return entry_arrays_[p.entry];
  }
  return NDArray();
}

std::string ExecutorNode::Describe() const { return type_key() + " '" + record_->key + "'"; }

Status ExecutorNode::AllocateModelArrays(const ParamMap& packaged) {
  const ExecGraph& g = graph();
  entry_arrays_.assign(g.entries.size(), NDArray());
  // Inputs and outputs start zeroed; parameters are written whole before any run (run
  // refuses to start until every parameter is set), so zeroing them would be wasted work.
  auto allocate = [&](uint32_t entry, bool zero) -> Status {
    const TensorInfo& t = g.entries[entry];
    ASSIGN_OR_RETURN(NDArray array, NDArray::Empty(t.shape, t.dtype, Device::Cpu()));
    if (zero) std::memset(array.data(), 0, array.NumBytes());
    entry_arrays_[entry] = std::move(array);
    return Status::Ok();
  };
  for (const NamedEntry& in : g.inputs) RETURN_IF_ERROR(allocate(in.entry, true));
  for (uint32_t out : g.outputs) RETURN_IF_ERROR(allocate(out, true));
  param_set_.assign(g.params.size(), false);
  param_shared_.assign(g.params.size(), false);
  for (size_t i = 0; i < g.params.size(); ++i) {
    const NamedEntry& p = g.params[i];
    auto it = packaged.find(p.name);
    if (it == packaged.end()) {
      RETURN_IF_ERROR(allocate(p.entry, false));
      continue;
    }
    const NDArray& array = it->second;
    if (array.shape() != g.entries[p.entry].shape || !(array.dtype() == g.entries[p.entry].dtype)) {
      return InvalidArgumentError(Describe() + " packaged parameters: parameter '" + p.name +
                                  "' expects " + g.entries[p.entry].ToString() + " but got " +
                                  array.dtype().ToString() + ShapeToString(array.shape()));
    }
    entry_arrays_[p.entry] = array;
    param_set_[i] = true;
    param_shared_[i] = true;
  }
  return Status::Ok();
}

Status ExecutorNode::ApplyParams(ParamMap params) {
  const ExecGraph& g = graph();
  // Check every array first, so that a mismatch leaves the parameters as they were.
  std::vector<std::pair<size_t, const NDArray*>> matched;
  for (const auto& [name, array] : params) {
    size_t index = 0;
    while (index < g.params.size() && g.params[index].name != name) ++index;
    // As in TVM, names of other models' parameters (a bundle's shared params file) are
    // skipped.
    if (index == g.params.size()) continue;
    const TensorInfo& expected = g.entries[g.params[index].entry];
    if (array.shape() != expected.shape || !(array.dtype() == expected.dtype)) {
      return InvalidArgumentError("load_params: parameter '" + name + "' expects " +
                                  expected.ToString() + " but got " + array.dtype().ToString() +
                                  ShapeToString(array.shape()));
    }
    matched.emplace_back(index, &array);
  }
  Status status = Status::Ok();
  bool replaced = false;
  for (const auto& [index, array] : matched) {
    NDArray& target = entry_arrays_[g.params[index].entry];
    if (param_shared_[index]) {
      // The library's array may lie in its read-only mapping and serves other executors:
      // instead of writing into it, take the new array, which is load_params' own.
      target = *array;
      param_shared_[index] = false;
      replaced = true;
    } else if (status = target.CopyFrom(*array); !status.ok()) {
      break;
    }
    param_set_[index] = true;
  }
  if (replaced) BindArrays();
  return status;
}

StatusOr<size_t> ExecutorNode::ResolveInput(std::string_view function, const Value& which) const {
  const ExecGraph& g = graph();
  if (which.kind() == Value::Kind::kInt) {
    ASSIGN_OR_RETURN(int64_t index, which.As<int64_t>());
    if (index < 0 || static_cast<size_t>(index) >= g.inputs.size()) {
      return InvalidArgumentError(std::string(function) + ": input index " +
                                  std::to_string(index) + " out of range; " + Describe() +
                                  " has " + std::to_string(g.inputs.size()) + " inputs");
    }
    return static_cast<size_t>(index);
  }
  StatusOr<std::string> name = which.As<std::string>();
  if (!name.ok()) {
    return InvalidArgumentError(std::string(function) +
                                ": an input is named by a string or an int, not " +
                                std::string(ValueKindName(which.kind())));
  }
  std::string known;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    if (g.inputs[i].name == *name) return i;
    known += (i ? ", " : "") + g.inputs[i].name;
  }
  return NotFoundError(std::string(function) + ": " + Describe() + " has no input '" + *name +
                       "'; its inputs are: " + known);
}

StatusOr<Value> ExecutorNode::SetInput(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("set_input", args, 2));
  ASSIGN_OR_RETURN(size_t index, ResolveInput("set_input", args[0]));
  ASSIGN_OR_RETURN(NDArray value, GetArg<NDArray>("set_input", args, 1));
  if (value.is_null()) return InvalidArgumentError("set_input: the array is null");
  const NamedEntry& in = graph().inputs[index];
  const TensorInfo& expected = graph().entries[in.entry];
  if (value.shape() != expected.shape || !(value.dtype() == expected.dtype)) {
    return InvalidArgumentError("set_input: input '" + in.name + "' expects " +
                                expected.ToString() + " but got " + value.dtype().ToString() +
                                ShapeToString(value.shape()));
  }
  RETURN_IF_ERROR(entry_arrays_[in.entry].CopyFrom(value));
  return Value();
}

StatusOr<Value> ExecutorNode::GetInput(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("get_input", args, 1));
  ASSIGN_OR_RETURN(size_t index, ResolveInput("get_input", args[0]));
  return Value(entry_arrays_[graph().inputs[index].entry]);
}

StatusOr<Value> ExecutorNode::GetOutput(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("get_output", args, 1));
  ASSIGN_OR_RETURN(int64_t index, GetArg<int64_t>("get_output", args, 0));
  const auto& outputs = graph().outputs;
  if (index < 0 || static_cast<size_t>(index) >= outputs.size()) {
    return InvalidArgumentError("get_output: output index " + std::to_string(index) +
                                " out of range; " + Describe() + " has " +
                                std::to_string(outputs.size()) + " outputs");
  }
  return Value(entry_arrays_[outputs[index]]);
}

StatusOr<Value> ExecutorNode::Run(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("run", args, 0));
  for (size_t i = 0; i < param_set_.size(); ++i) {
    if (!param_set_[i]) {
      return FailedPreconditionError("run: parameter '" + graph().params[i].name + "' of " +
                                     Describe() +
                                     " is not set; call load_params with the model's params "
                                     "file");
    }
  }
  ApplyKernelThreads();
  Status status = Execute();
  if (!status.ok()) return status.WithContext("run " + Describe());
  return Value();
}

StatusOr<Value> ExecutorNode::GetNumInputs(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("get_num_inputs", args, 0));
  return Value(static_cast<int64_t>(graph().inputs.size()));
}

StatusOr<Value> ExecutorNode::GetNumOutputs(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("get_num_outputs", args, 0));
  return Value(static_cast<int64_t>(graph().outputs.size()));
}

StatusOr<Value> ExecutorNode::GetInputName(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("get_input_name", args, 1));
  ASSIGN_OR_RETURN(size_t index, ResolveInput("get_input_name", args[0]));
  return Value(graph().inputs[index].name);
}

namespace {

void AppendSpec(std::string& out, const std::string& name, const TensorInfo& info) {
  out += name + "\t" + info.dtype.ToString() + "\t";
  for (size_t i = 0; i < info.shape.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(info.shape[i]);
  }
  out += "\n";
}

}  // namespace

StatusOr<Value> ExecutorNode::GetInputInfo(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("get_input_info", args, 0));
  std::string text;
  for (const NamedEntry& in : graph().inputs) AppendSpec(text, in.name, graph().entries[in.entry]);
  return Value(std::move(text));
}

StatusOr<Value> ExecutorNode::GetOutputInfo(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("get_output_info", args, 0));
  std::string text;
  for (size_t i = 0; i < graph().outputs.size(); ++i) {
    AppendSpec(text, "output_" + std::to_string(i), graph().entries[graph().outputs[i]]);
  }
  return Value(std::move(text));
}

StatusOr<Value> ExecutorNode::LoadParams(std::span<const Value> args) {
  RETURN_IF_ERROR(CheckArgCount("load_params", args, 1));
  ASSIGN_OR_RETURN(Bytes bytes, GetArg<Bytes>("load_params", args, 0));
  StatusOr<ParamMap> params = ParseParams(bytes.data);
  if (!params.ok()) return params.status().WithContext("load_params");
  RETURN_IF_ERROR(ApplyParams(std::move(*params)));
  return Value();
}

StatusOr<std::vector<TensorSpec>> ParseTensorSpecs(std::string_view text) {
  std::vector<TensorSpec> specs;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) return InvalidArgumentError("tensor info: missing newline");
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    const size_t tab1 = line.find('\t');
    const size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
    if (tab2 == std::string_view::npos) {
      return InvalidArgumentError("tensor info: malformed line '" + std::string(line) + "'");
    }
    TensorSpec spec;
    spec.name = std::string(line.substr(0, tab1));
    ASSIGN_OR_RETURN(spec.info.dtype,
                     ParseDataType(std::string(line.substr(tab1 + 1, tab2 - tab1 - 1))));
    std::string_view dims = line.substr(tab2 + 1);
    while (!dims.empty()) {
      const size_t comma = dims.find(',');
      std::string_view dim = dims.substr(0, comma);
      int64_t value = 0;
      auto [ptr, ec] = std::from_chars(dim.data(), dim.data() + dim.size(), value);
      if (ec != std::errc() || ptr != dim.data() + dim.size() || value < 0) {
        return InvalidArgumentError("tensor info: bad dimension '" + std::string(dim) + "'");
      }
      spec.info.shape.push_back(value);
      dims = comma == std::string_view::npos ? std::string_view() : dims.substr(comma + 1);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace ferry
