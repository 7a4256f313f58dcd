#include <onnx/onnx_pb.h>

#include <charconv>
#include <filesystem>
#include <map>
#include <set>

#include "cli/commands.h"
#include "cli/tensor_files.h"
#include "compiler/export_library.h"
#include "compiler/onnx/onnx_importer.h"
#include "compiler/zoo.h"
#include "util/arg_parser.h"

namespace ferry::cli {

using util::OptionSpec;
namespace {

const OptionSpec kOptions[] = {
    {"zoo", "", true, "NAME  a built-in model (mlp, cnn); repeat to bundle several"},
    {"name", "", true,
     "KEY  the key of the matching model, in order: ONNX files, then --zoo models\n"
     "      (default: the file's stem or the zoo name)"},
    {"input-shape", "", true,
     "NAME=D0,D1,...  the static shape of an ONNX graph input (fixes dynamic dimensions)"},
    {"bind", "", true,
     "NAME=FILE  fix an ONNX graph input to a value (.npy or .pb) when building"},
    {"executor", "", true, "KIND  graph (default) or aot"},
    {"no-package-params", "", false, "write the parameters to LIB.params instead of LIB"},
    {"seed", "", true, "N  seed of the zoo's random weights"},
    {"keep-source", "", false, "keep the generated C++ source as LIB.cc"},
    {"conv-layout", "", true,
     "L  convolutions on oneDNN in nchw16c or nhwc, or on OpenBLAS in nchw (default auto: "
     "nchw16c for models with depthwise convolutions, else nhwc; nchw without oneDNN)"},
    {"output", "o", true, "LIB  the model library to write (.so)"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry build MODEL.onnx [MODEL.onnx ...] [--zoo NAME ...] -o LIB [options]\n\n"
    "Builds models (ONNX files and built-in zoo models) into one model library (a shared\n"
    "object) with the system C++ compiler.\n\n"
    "options:\n";

StatusOr<std::vector<int64_t>> ParseDims(const std::string& text) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                           : comma - start);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || v < 0) {
      return InvalidArgumentError("--input-shape dimensions must be non-negative integers, got '" +
                                  text + "'");
    }
    dims.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dims;
}

// --input-shape and --bind values by input name.
struct InputOverrides {
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, NDArray> values;
  std::set<std::string> used;
};

StatusOr<InputOverrides> ParseInputOverrides(const util::ParsedArgs& parsed) {
  InputOverrides o;
  for (const std::string& spec : parsed.All("input-shape")) {
    ASSIGN_OR_RETURN(auto name_dims, SplitNameValue(spec, "--input-shape"));
    ASSIGN_OR_RETURN(o.shapes[name_dims.first], ParseDims(name_dims.second));
  }
  for (const std::string& spec : parsed.All("bind")) {
    ASSIGN_OR_RETURN(auto name_file, SplitNameValue(spec, "--bind"));
    ASSIGN_OR_RETURN(o.values[name_file.first], LoadTensorFile(name_file.second));
  }
  return o;
}

StatusOr<compiler::Model> ImportOnnx(const std::string& path, std::string key,
                                     InputOverrides& overrides) {
  ASSIGN_OR_RETURN(onnx::ModelProto proto, compiler::onnx_import::LoadOnnxModel(path));
  compiler::onnx_import::OnnxImportOptions options;
  options.key = std::move(key);
  std::set<std::string> names;
  for (const auto& input : proto.graph().input()) names.insert(input.name());
  for (const auto& [name, shape] : overrides.shapes) {
    if (names.count(name)) options.input_shapes[name] = shape, overrides.used.insert(name);
  }
  for (const auto& [name, value] : overrides.values) {
    if (names.count(name)) options.bound_inputs[name] = value, overrides.used.insert(name);
  }
  StatusOr<compiler::Model> model = compiler::onnx_import::ImportOnnxModel(proto, options);
  if (!model.ok()) return model.status().WithContext(path);
  return model;
}

}  // namespace

Status BuildCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, kOptions, kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  const std::vector<std::string>& files = parsed.positional();
  const std::vector<std::string> zoo = parsed.All("zoo");
  const std::vector<std::string> names = parsed.All("name");
  const std::optional<std::string> output = parsed.Get("output");
  if (zoo.empty() && files.empty()) {
    return InvalidArgumentError("nothing to build: give MODEL.onnx files or --zoo NAME");
  }
  if (!output) return InvalidArgumentError("missing -o LIB");
  if (names.size() > zoo.size() + files.size()) {
    return InvalidArgumentError("more --name options than models");
  }
  ASSIGN_OR_RETURN(ExecutorKind executor, ParseExecutorKind(parsed.Get("executor").value_or("graph")));
  uint32_t seed = compiler::kDefaultZooSeed;
  if (auto text = parsed.Get("seed")) {
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), seed);
    if (ec != std::errc() || ptr != text->data() + text->size()) {
      return InvalidArgumentError("--seed must be a non-negative integer, got '" + *text + "'");
    }
  }
  ASSIGN_OR_RETURN(InputOverrides overrides, ParseInputOverrides(parsed));

  std::vector<compiler::Model> models;
  for (size_t i = 0; i < files.size(); ++i) {
    if (std::filesystem::path(files[i]).extension() != ".onnx") {
      return InvalidArgumentError("'" + files[i] + "' is not an .onnx file");
    }
    std::string key = i < names.size() ? names[i] : std::filesystem::path(files[i]).stem().string();
    ASSIGN_OR_RETURN(compiler::Model model, ImportOnnx(files[i], std::move(key), overrides));
    models.push_back(std::move(model));
  }
  for (const auto& [name, shape] : overrides.shapes) {
    if (!overrides.used.count(name)) return InvalidArgumentError("no model has an input '" + name + "'");
  }
  for (const auto& [name, value] : overrides.values) {
    if (!overrides.used.count(name)) return InvalidArgumentError("no model has an input '" + name + "'");
  }
  for (size_t i = 0; i < zoo.size(); ++i) {
    ASSIGN_OR_RETURN(compiler::Model model, compiler::BuildZooModel(zoo[i], seed));
    const size_t name_index = files.size() + i;
    if (name_index < names.size()) model.key = names[name_index];
    models.push_back(std::move(model));
  }
  std::vector<compiler::ModelBuild> builds;
  for (const compiler::Model& m : models) builds.push_back({&m, executor});
  compiler::ExportOptions options;
  options.package_params = !parsed.Has("no-package-params");
  options.keep_source = parsed.Has("keep-source");
  if (const std::optional<std::string> layout_text = parsed.Get("conv-layout")) {
    const std::string& layout = *layout_text;
    if (layout == "nchw") {
      options.blocked_layouts = false;
    } else if (layout == "nchw16c") {
      options.layout = compiler::BlockedLayout::kChannelBlocks;
    } else if (layout == "nhwc") {
      options.layout = compiler::BlockedLayout::kChannelsLast;
    } else if (layout != "auto") {
      return InvalidArgumentError("--conv-layout must be auto, nchw16c, nhwc or nchw, not '" +
                                  layout + "'");
    }
  }
  RETURN_IF_ERROR(compiler::ExportLibrary(builds, *output, options));

  for (const compiler::Model& m : models) {
    out << "built '" << m.key << "' (" << ExecutorKindName(executor) << " executor, "
        << m.graph.nodes.size() << " nodes, " << m.params.size() << " parameters)\n";
  }
  out << "wrote " << *output << "\n";
  if (!options.package_params) out << "wrote " << compiler::ParamsPathFor(*output) << "\n";
  return Status::Ok();
}

}  // namespace ferry::cli
