#include "compiler/onnx/conformance.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "compiler/export_library.h"
#include "compiler/onnx/onnx_importer.h"
#include "compiler/onnx/tensor_compare.h"
#include "compiler/onnx/tensor_proto.h"
#include "compiler/subprocess.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"

namespace ferry::compiler::onnx_import {
namespace {

namespace fs = std::filesystem;

struct DataSet {
  std::string name;
  std::vector<NDArray> inputs, outputs;
};

// A case that imported and awaits building and running.
struct PreparedCase {
  size_t result_index;
  Model model;
  std::vector<std::string> input_names;  // graph inputs, in order (data set input_i)
  std::map<std::string, NDArray> bound;
  std::vector<DataSet> data_sets;
};

std::vector<fs::path> SortedSubfolders(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory() && e.path().filename().string().rfind(prefix, 0) == 0) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

StatusOr<std::vector<NDArray>> LoadNumbered(const fs::path& dir, const std::string& stem) {
  std::vector<NDArray> arrays;
  for (int i = 0;; ++i) {
    const fs::path path = dir / (stem + "_" + std::to_string(i) + ".pb");
    if (!fs::exists(path)) break;
    ASSIGN_OR_RETURN(NDArray a, LoadTensorProtoFile(path.string()));
    arrays.push_back(std::move(a));
  }
  return arrays;
}

std::vector<std::string> ModelOps(const onnx::ModelProto& model) {
  std::set<std::string> ops;
  for (const onnx::NodeProto& node : model.graph().node()) ops.insert(node.op_type());
  return {ops.begin(), ops.end()};
}

// Loads and imports one case; sets the result's outcome unless it is ready to run.
std::optional<PreparedCase> Prepare(const fs::path& dir, size_t index, CaseResult& result) {
  StatusOr<onnx::ModelProto> proto = LoadOnnxModel((dir / "model.onnx").string());
  if (!proto.ok()) {
    result.reason = proto.status().ToString();
    return std::nullopt;
  }
  result.ops = ModelOps(*proto);
  const std::vector<std::string> supported = SupportedOnnxOperators();
  for (const std::string& op : result.ops) {
    if (!std::binary_search(supported.begin(), supported.end(), op)) {
      result.outcome = Outcome::kOtherOps;
      result.reason = "operator " + op + " is not imported";
      return std::nullopt;
    }
  }
  PreparedCase prepared{index, {}, {}, {}, {}};
  std::set<std::string> initializers;
  for (const auto& init : proto->graph().initializer()) initializers.insert(init.name());
  for (const auto& input : proto->graph().input()) {
    if (initializers.count(input.name())) continue;
    if (!input.type().has_tensor_type()) {
      result.outcome = Outcome::kUnsupported;
      result.reason = UnimplementedError("input '" + input.name() +
                                         "' is not a tensor (sequence and optional types are "
                                         "not supported)")
                          .ToString();
      return std::nullopt;
    }
    prepared.input_names.push_back(input.name());
  }
  for (const fs::path& set_dir : SortedSubfolders(dir, "test_data_set_")) {
    DataSet data{set_dir.filename().string(), {}, {}};
    StatusOr<std::vector<NDArray>> inputs = LoadNumbered(set_dir, "input");
    StatusOr<std::vector<NDArray>> outputs = LoadNumbered(set_dir, "output");
    if (!inputs.ok() || !outputs.ok()) {
      const Status& status = inputs.ok() ? outputs.status() : inputs.status();
      // Test data in a dtype Ferry has no arrays for (float16, strings) is unsupported.
      if (status.code() == StatusCode::kUnimplemented) result.outcome = Outcome::kUnsupported;
      result.reason = status.ToString();
      return std::nullopt;
    }
    if (inputs->size() != prepared.input_names.size()) {
      result.reason = data.name + " has " + std::to_string(inputs->size()) + " inputs; the model " +
                      std::to_string(prepared.input_names.size());
      return std::nullopt;
    }
    data.inputs = std::move(*inputs);
    data.outputs = std::move(*outputs);
    prepared.data_sets.push_back(std::move(data));
  }
  if (prepared.data_sets.empty()) {
    result.reason = "no test_data_set_*";
    return std::nullopt;
  }
  OnnxImportOptions options;
  options.key = result.suite + "/" + result.name;
  for (const std::string& name : ConstantOperandInputs(*proto)) {
    const auto it = std::find(prepared.input_names.begin(), prepared.input_names.end(), name);
    const NDArray& value = prepared.data_sets[0].inputs[it - prepared.input_names.begin()];
    options.bound_inputs[name] = value;
    prepared.bound[name] = value;
  }
  StatusOr<Model> model = ImportOnnxModel(*proto, options);
  if (!model.ok()) {
    result.outcome = model.status().code() == StatusCode::kUnimplemented ? Outcome::kUnsupported
                                                                           : Outcome::kFailed;
    result.reason = model.status().ToString();
    return std::nullopt;
  }
  prepared.model = std::move(*model);
  return prepared;
}

bool SameBytes(const NDArray& a, const NDArray& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), a.NumBytes()) == 0;
}

// Runs every data set of `c` with model `key` of `library`.
Status RunCase(const Module& library, const PreparedCase& c, const ConformanceOptions& options) {
  ASSIGN_OR_RETURN(ExecutorModule executor,
                   ExecutorModule::Create(library, c.model.key, Device::Cpu()));
  for (const DataSet& data : c.data_sets) {
    for (size_t i = 0; i < c.input_names.size(); ++i) {
      const std::string& name = c.input_names[i];
      auto bound = c.bound.find(name);
      if (bound != c.bound.end()) {
        if (!SameBytes(bound->second, data.inputs[i])) {
          return UnimplementedError(data.name + " gives another value for the build-time input '" +
                                    name + "'");
        }
        continue;
      }
      RETURN_IF_ERROR(executor.SetInput(name, data.inputs[i]).WithContext(data.name));
    }
    RETURN_IF_ERROR(executor.Run().WithContext(data.name));
    ASSIGN_OR_RETURN(int num_outputs, executor.GetNumOutputs());
    if (static_cast<size_t>(num_outputs) != data.outputs.size()) {
      return InvalidArgumentError(data.name + " expects " + std::to_string(data.outputs.size()) +
                                  " outputs, the model has " + std::to_string(num_outputs));
    }
    for (int i = 0; i < num_outputs; ++i) {
      ASSIGN_OR_RETURN(NDArray out, executor.GetOutput(i));
      RETURN_IF_ERROR(CompareArrays(data.outputs[i], out, options.rtol, options.atol)
                          .WithContext(data.name + " output " + std::to_string(i)));
    }
  }
  return Status::Ok();
}

void Finish(CaseResult& result, const Status& status) {
  if (status.ok()) {
    result.outcome = Outcome::kPassed;
    result.reason.clear();
    return;
  }
  result.outcome =
      status.code() == StatusCode::kUnimplemented ? Outcome::kUnsupported : Outcome::kFailed;
  result.reason = status.ToString();
}

// Builds `batch` into one library (each case alone when the batch does not compile) and runs
// its cases.
Status BuildAndRun(std::vector<PreparedCase>& batch, const std::string& library_path,
                   const ConformanceOptions& options, ConformanceReport& report) {
  std::vector<ModelBuild> builds;
  for (const PreparedCase& c : batch) builds.push_back({&c.model, options.executor});
  const Status exported = ExportLibrary(builds, library_path);
  if (!exported.ok() && batch.size() > 1) {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<PreparedCase> one;
      one.push_back(std::move(batch[i]));
      RETURN_IF_ERROR(BuildAndRun(one, library_path + "." + std::to_string(i), options, report));
    }
    return Status::Ok();
  }
  if (!exported.ok()) {
    Finish(report.cases[batch[0].result_index], exported);
    return Status::Ok();
  }
  StatusOr<Module> library = LoadModule(library_path);
  for (const PreparedCase& c : batch) {
    Finish(report.cases[c.result_index],
           library.ok() ? RunCase(*library, c, options) : library.status());
  }
  return Status::Ok();
}

}  // namespace

size_t ConformanceReport::Count(Outcome outcome) const {
  return static_cast<size_t>(std::count_if(cases.begin(), cases.end(),
                                           [&](const CaseResult& c) { return c.outcome == outcome; }));
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPassed: return "passed";
    case Outcome::kFailed: return "failed";
    case Outcome::kUnsupported: return "unsupported";
    case Outcome::kOtherOps: return "other operators";
  }
  return "?";
}

StatusOr<ConformanceReport> RunConformance(const ConformanceOptions& options) {
  ConformanceReport report;
  std::vector<fs::path> dirs;
  for (const std::string& suite : options.suites) {
    if (!fs::is_directory(suite)) return NotFoundError("no test suite folder " + suite);
    for (const fs::path& dir : SortedSubfolders(suite, "")) {
      if (!fs::exists(dir / "model.onnx")) continue;
      if (!options.filter.empty() && dir.filename().string().find(options.filter) == std::string::npos) {
        continue;
      }
      report.cases.push_back({fs::path(suite).filename().string(), dir.filename().string(), {},
                              Outcome::kFailed, ""});
      dirs.push_back(dir);
    }
  }
  ASSIGN_OR_RETURN(TempDir work, TempDir::Create("ferry-conformance-"));
  std::vector<PreparedCase> batch;
  size_t batches = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    const std::string path = work.path() + "/batch" + std::to_string(batches++) + ".so";
    RETURN_IF_ERROR(BuildAndRun(batch, path, options, report));
    if (options.progress) {
      *options.progress << "conformance: " << batch.size() << " cases built and run ("
                        << report.Count(Outcome::kPassed) << " passed so far)\n";
    }
    batch.clear();
    return Status::Ok();
  };
  for (size_t i = 0; i < dirs.size(); ++i) {
    std::optional<PreparedCase> prepared = Prepare(dirs[i], i, report.cases[i]);
    if (prepared) batch.push_back(std::move(*prepared));
    if (batch.size() >= options.batch_size) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());
  return report;
}

}  // namespace ferry::compiler::onnx_import
