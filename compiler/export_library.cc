#include "compiler/export_library.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>

#include "compiler/blocked_layouts.h"
#include "compiler/codegen.h"
#include "compiler/compiler_config.h"
#include "compiler/subprocess.h"
#include "runtime/file_util.h"
#include "runtime/memory_plan.h"
#include "runtime/params.h"

namespace ferry::compiler {
namespace {

// A C identifier fragment for `text`.
std::string Identifier(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('|', start);
    std::string item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty()) items.push_back(item);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return items;
}

std::string CompilerPath(const ExportOptions& options) {
  if (!options.cxx.empty()) return options.cxx;
  if (const char* env = std::getenv("FERRY_CXX"); env != nullptr && *env) return env;
  return FERRY_CXX_COMPILER;
}

// What one model turns into, prepared before code generation.
struct PreparedModel {
  ModelRecord record;
  const Model* model;  // the caller's, or `converted`
  MemoryPlan plan;
  std::shared_ptr<const Model> converted;
};

// The checks every model passes before anything is made of it.
Status CheckModel(const Model& model) {
  ExecGraph check = model.graph;
  for (GraphNode& node : check.nodes) node.func_name = node.name;
  RETURN_IF_ERROR(check.Validate().WithContext("model '" + model.key + "'"));
  if (model.node_attrs.size() != check.nodes.size()) {
    return InvalidArgumentError("model '" + model.key + "' has attributes for " +
                                std::to_string(model.node_attrs.size()) + " of " +
                                std::to_string(check.nodes.size()) + " nodes");
  }
  for (const NamedEntry& p : check.params) {
    auto it = model.params.find(p.name);
    if (it == model.params.end()) {
      return InvalidArgumentError("model '" + model.key + "' lacks a value for parameter '" +
                                  p.name + "'");
    }
    const TensorInfo& info = check.entries[p.entry];
    if (it->second.shape() != info.shape || !(it->second.dtype() == info.dtype)) {
      return InvalidArgumentError("parameter '" + p.name + "' of model '" + model.key +
                                  "' is not " + info.ToString());
    }
  }
  return Status::Ok();
}

StatusOr<PreparedModel> Prepare(const ModelBuild& build, size_t index, const ExportOptions& options) {
  RETURN_IF_ERROR(CheckModel(*build.model));
  const bool package_params = options.package_params;
  PreparedModel prepared{{}, build.model, {}, nullptr};
  if (options.blocked_layouts && BlockedLayoutsAvailable()) {
    ASSIGN_OR_RETURN(Model converted, ConvertToBlockedLayouts(*build.model, options.layout));
    prepared.converted = std::make_shared<const Model>(std::move(converted));
    prepared.model = prepared.converted.get();
  }
  const Model& model = *prepared.model;
  ModelRecord& record = prepared.record;
  record.key = model.key;
  record.executor = build.executor;
  record.graph = model.graph;
  const std::string prefix = "ferry_m" + std::to_string(index);
  for (size_t n = 0; n < record.graph.nodes.size(); ++n) {
    GraphNode& node = record.graph.nodes[n];
    node.func_name = prefix + "_n" + std::to_string(n) + "_" + Identifier(node.op);
  }
  RETURN_IF_ERROR(record.graph.Validate().WithContext("model '" + model.key + "'"));
  if (package_params) {
    record.params_packaged = true;
    ASSIGN_OR_RETURN(record.params_bytes, SerializeParams(model.params));
  }
  if (build.executor == ExecutorKind::kAot) {
    prepared.plan = PlanMemory(record.graph);
    record.aot_entry = prefix + "_aot";
    record.workspace_bytes = prepared.plan.arena_bytes;
  }
  return prepared;
}

Status Compile(const ExportOptions& options, const std::string& source_path,
               const std::string& output_path, const std::string& log_path) {
  std::vector<std::string> argv = {CompilerPath(options),
                                   "-std=c++20",
                                   "-O2",
                                   "-fopenmp",
                                   "-fPIC",
                                   "-shared",
                                   "-fvisibility=hidden",
                                   "-fno-semantic-interposition",
                                   "-I" FERRY_SOURCE_DIR,
                                   "-I" FERRY_DLPACK_INCLUDE_DIR,
                                   source_path,
                                   "-o",
                                   output_path,
                                   FERRY_KERNELS_LIBRARY,
                                   "-Wl,--exclude-libs,ALL"};
  const std::vector<std::string> sanitizers = SplitList(FERRY_SANITIZER_FLAGS);
  argv.insert(argv.end(), sanitizers.begin(), sanitizers.end());
  // Under a sanitizer its runtime's symbols come from the process that loads the library.
  if (sanitizers.empty()) argv.push_back("-Wl,--no-undefined");
  for (const std::string& lib : SplitList(FERRY_BLAS_LIBRARIES)) argv.push_back(lib);
  // The kernels' OpenMP pool (runtime/kernel_threads.h) and oneDNN.
  argv.push_back("-fopenmp");
  for (const std::string& lib : SplitList(FERRY_DNNL_LIBRARIES)) argv.push_back(lib);
  argv.push_back("-lm");
  ASSIGN_OR_RETURN(ProcessResult result, RunProcess(argv, log_path, options.compile_timeout));
  if (result.signalled || result.exit_code != 0) {
    return InternalError("the C++ compiler (" + argv[0] + ") failed" +
                         (result.signalled ? " with signal " + std::to_string(result.signal)
                                           : " with exit code " + std::to_string(result.exit_code)) +
                         ":\n" + result.output);
  }
  return Status::Ok();
}

}  // namespace

std::string ParamsPathFor(const std::string& library_path) { return library_path + ".params"; }

Status ExportLibrary(std::span<const ModelBuild> models, const std::string& path,
                     const ExportOptions& options) {
  if (models.empty()) return InvalidArgumentError("export_library: no models given");
  std::set<std::string> keys;
  std::vector<PreparedModel> prepared;
  for (size_t i = 0; i < models.size(); ++i) {
    if (models[i].model == nullptr) return InvalidArgumentError("export_library: null model");
    const std::string& key = models[i].model->key;
    if (key.empty()) return InvalidArgumentError("export_library: a model has an empty key");
    if (!keys.insert(key).second) {
      return InvalidArgumentError("export_library: two models use the key '" + key + "'");
    }
    ASSIGN_OR_RETURN(PreparedModel p, Prepare(models[i], i, options));
    prepared.push_back(std::move(p));
  }

  LibraryManifest manifest;
  std::vector<CodegenModel> codegen;
  for (const PreparedModel& p : prepared) manifest.models.push_back(p.record);
  for (size_t i = 0; i < prepared.size(); ++i) {
    const ModelRecord& record = manifest.models[i];
    codegen.push_back({record.key, &record.graph, &prepared[i].model->node_attrs,
                       record.aot_entry, &prepared[i].plan});
  }

  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("ferry-export-"));
  const std::string blob_path = dir.path() + "/manifest.bin";
  const std::string source_path = dir.path() + "/library.cc";
  RETURN_IF_ERROR(WriteFileAtomically(blob_path, SerializeManifest(manifest)));
  ASSIGN_OR_RETURN(std::string source, GenerateLibrarySource(codegen, blob_path));
  RETURN_IF_ERROR(WriteFileAtomically(source_path, source));
  if (options.keep_source) RETURN_IF_ERROR(WriteFileAtomically(path + ".cc", source));

  const std::string temp_output = dir.path() + "/library.so";
  RETURN_IF_ERROR(Compile(options, source_path, temp_output, dir.path() + "/compile.log"));

  if (!options.package_params) {
    ParamMap all;
    for (const PreparedModel& p : prepared) {
      for (const auto& [name, value] : p.model->params) {
        if (!all.emplace(name, value).second) {
          return InvalidArgumentError(
              "export_library: parameter '" + name +
              "' appears in two models; separate params files need distinct names");
        }
      }
    }
    RETURN_IF_ERROR(SaveParams(ParamsPathFor(path), all));
  }
  // Copy then rename so the library appears whole even across file systems.
  std::error_code ec;
  const std::string staged = path + ".tmp";
  std::filesystem::copy_file(temp_output, staged, std::filesystem::copy_options::overwrite_existing,
                             ec);
  if (!ec) std::filesystem::rename(staged, path, ec);
  if (ec) {
    std::filesystem::remove(staged);
    return UnavailableError("cannot write " + path + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace ferry::compiler
