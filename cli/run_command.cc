#include <chrono>
#include <filesystem>

#include "cli/arg_parser.h"
#include "cli/commands.h"
#include "runtime/executor_module.h"
#include "runtime/file_util.h"
#include "runtime/library_module.h"
#include "runtime/npy.h"
#include "runtime/time_evaluator.h"

namespace ferry::cli {
namespace {

const OptionSpec kOptions[] = {
    {"name", "", true, "KEY  the model to run (default: the library's only model)"},
    {"input", "i", true, "NAME=FILE  an input as a .npy file; repeat for each input"},
    {"params", "", true, "FILE  parameters for a library built with --no-package-params"},
    {"output-dir", "", true, "DIR  where to write output_0.npy, ... (default: .)"},
    {"repeat", "", true, "N  timed runs after the first (default: 10)"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry run LIB [--name KEY] --input NAME=FILE.npy ... [--output-dir DIR]\n\n"
    "Loads a model library, runs one model on the CPU and writes its outputs as .npy files.\n\n"
    "options:\n";

StatusOr<std::string> ChooseModel(const Module& library, std::optional<std::string> name) {
  ASSIGN_OR_RETURN(auto manifest, GetLibraryManifest(library));
  std::string keys;
  for (const ModelRecord& m : manifest->models) {
    if (name && m.key == *name) return *name;
    keys += (keys.empty() ? "" : ", ") + m.key;
  }
  if (name) return NotFoundError("the library has no model '" + *name + "' (models: " + keys + ")");
  if (manifest->models.size() != 1) {
    return InvalidArgumentError("the library holds several models (" + keys + "); pick one with --name");
  }
  return manifest->models[0].key;
}

}  // namespace

Status RunCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(ParsedArgs parsed, ParseArgs(args, kOptions));
  if (parsed.Has("help")) {
    out << kUsage << FormatOptions(kOptions);
    return Status::Ok();
  }
  if (parsed.positional().size() != 1) {
    return InvalidArgumentError("expected exactly one library argument (ferry run LIB ...)");
  }
  int repeat = 10;
  if (auto text = parsed.Get("repeat")) {
    try {
      repeat = std::stoi(*text);
    } catch (const std::exception&) {
      repeat = -1;
    }
    if (repeat < 1) return InvalidArgumentError("--repeat must be a positive integer");
  }
  ASSIGN_OR_RETURN(Module library, LoadModule(parsed.positional()[0]));
  ASSIGN_OR_RETURN(std::string key, ChooseModel(library, parsed.Get("name")));
  ASSIGN_OR_RETURN(ExecutorModule executor, ExecutorModule::Create(library, key, Device::Cpu()));

  if (auto params = parsed.Get("params")) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(*params));
    RETURN_IF_ERROR(executor.LoadParams(std::move(bytes)).WithContext(*params));
  }
  ASSIGN_OR_RETURN(std::vector<TensorSpec> inputs, executor.GetInputInfo());
  std::vector<bool> given(inputs.size(), false);
  for (const std::string& spec : parsed.All("input")) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgumentError("--input expects NAME=FILE.npy, got '" + spec + "'");
    }
    const std::string name = spec.substr(0, eq);
    ASSIGN_OR_RETURN(NDArray value, LoadNpy(spec.substr(eq + 1)));
    RETURN_IF_ERROR(executor.SetInput(name, value));
    for (size_t i = 0; i < inputs.size(); ++i) given[i] = given[i] || inputs[i].name == name;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!given[i]) {
      return InvalidArgumentError("input '" + inputs[i].name + "' (" + inputs[i].info.ToString() +
                                  ") was not given; pass --input " + inputs[i].name + "=FILE.npy");
    }
  }

  const auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(executor.Run());
  const double first_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  const std::string dir = parsed.Get("output-dir").value_or(".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return UnavailableError("cannot create " + dir + ": " + ec.message());
  ASSIGN_OR_RETURN(int num_outputs, executor.GetNumOutputs());
  for (int i = 0; i < num_outputs; ++i) {
    ASSIGN_OR_RETURN(NDArray output, executor.GetOutput(i));
    const std::string path = dir + "/output_" + std::to_string(i) + ".npy";
    RETURN_IF_ERROR(SaveNpy(path, output));
    out << "output " << i << ": " << output.dtype().ToString() << ShapeToString(output.shape())
        << " -> " << path << "\n";
  }

  TimeEvaluatorOptions timing;
  timing.repeat = repeat;
  ASSIGN_OR_RETURN(PackedFunc timer, TimeEvaluator(executor.module(), "run", Device::Cpu(), timing));
  ASSIGN_OR_RETURN(Value result, timer.Call());
  ASSIGN_OR_RETURN(NDArray seconds, result.As<NDArray>());
  double sum = 0, best = seconds.data_as<double>()[0];
  for (int i = 0; i < repeat; ++i) {
    sum += seconds.data_as<double>()[i];
    best = std::min(best, seconds.data_as<double>()[i]);
  }
  out << "model '" << key << "' (" << executor.module().type_key() << "): first run "
      << first_ms << " ms, mean " << sum / repeat * 1e3 << " ms, min " << best * 1e3
      << " ms over " << repeat << " runs\n";
  return Status::Ok();
}

}  // namespace ferry::cli
