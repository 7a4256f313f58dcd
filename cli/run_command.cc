#include <chrono>
#include <filesystem>

#include "cli/commands.h"
#include "cli/model_target.h"
#include "cli/tensor_files.h"
#include "runtime/file_util.h"
#include "runtime/npy.h"
#include "util/arg_parser.h"

namespace ferry::cli {
namespace {

using util::OptionSpec;

const OptionSpec kOptions[] = {
    {"name", "", true, "KEY  the model to run (default: the library's only model)"},
    {"input", "i", true, "NAME=FILE  an input as a .npy or ONNX TensorProto .pb file; repeat for each"},
    {"params", "", true, "FILE  parameters for a library built with --no-package-params"},
    {"output-dir", "", true, "DIR  where to write output_0.npy, ... (default: .)"},
    {"repeat", "", true, "N  timed runs after the first (default: 10)"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry run LIB [--name KEY] --input NAME=FILE.npy|.pb ... [--output-dir DIR]\n"
    "                 [--agent tcp://HOST:PORT | --tracker tcp://HOST:PORT --key KEY]\n"
    "                 [--threads N]\n\n"
    "Loads a model library, here or on a device agent, runs one model on the CPU and writes\n"
    "its outputs as .npy files.\n\noptions:\n";

// Sets every input from --input NAME=FILE; each model input must be given.
Status SetInputs(const ExecutorModule& executor, const std::vector<std::string>& specs) {
  ASSIGN_OR_RETURN(std::vector<TensorSpec> inputs, executor.GetInputInfo());
  std::vector<bool> given(inputs.size(), false);
  for (const std::string& spec : specs) {
    ASSIGN_OR_RETURN(auto name_file, SplitNameValue(spec, "--input"));
    const std::string& name = name_file.first;
    ASSIGN_OR_RETURN(NDArray value, LoadTensorFile(name_file.second));
    RETURN_IF_ERROR(executor.SetInput(name, value));
    for (size_t i = 0; i < inputs.size(); ++i) given[i] = given[i] || inputs[i].name == name;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!given[i]) {
      return InvalidArgumentError("input '" + inputs[i].name + "' (" + inputs[i].info.ToString() +
                                  ") was not given; pass --input " + inputs[i].name + "=FILE.npy");
    }
  }
  return Status::Ok();
}

}  // namespace

Status RunCommand(std::span<const std::string> args, std::ostream& out) {
  std::vector<OptionSpec> specs(std::begin(kOptions), std::end(kOptions));
  for (util::OptionSpec& spec : PlacementOptionSpecs()) specs.push_back(std::move(spec));
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, specs, kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  if (parsed.positional().size() != 1) {
    return InvalidArgumentError("expected exactly one library argument (ferry run LIB ...)");
  }
  ASSIGN_OR_RETURN(int repeat, ParsePositiveInt(parsed.Get("repeat"), "--repeat", 10));
  ASSIGN_OR_RETURN(Placement placement, ParsePlacement(parsed));
  ASSIGN_OR_RETURN(ModelTarget target,
                   OpenModelTarget(parsed.positional()[0], parsed.Get("name"), placement));
  const ExecutorModule& executor = target.executor;
  if (auto params = parsed.Get("params")) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(*params));
    RETURN_IF_ERROR(executor.LoadParams(std::move(bytes)).WithContext(*params));
  }
  RETURN_IF_ERROR(SetInputs(executor, parsed.All("input")));

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
    ASSIGN_OR_RETURN(NDArray host, output.device().type == kDLCPU ? StatusOr<NDArray>(output)
                                                                  : output.CopyTo(Device::Cpu()));
    const std::string path = dir + "/output_" + std::to_string(i) + ".npy";
    RETURN_IF_ERROR(SaveNpy(path, host));
    out << "output " << i << ": " << host.dtype().ToString() << ShapeToString(host.shape())
        << " -> " << path << "\n";
  }

  TimeEvaluatorOptions timing;
  timing.repeat = repeat;
  ASSIGN_OR_RETURN(PackedFunc timer, target.RunTimer(timing));
  ASSIGN_OR_RETURN(Value result, timer.Call());
  ASSIGN_OR_RETURN(NDArray seconds, result.As<NDArray>());
  double sum = 0, best = seconds.data_as<double>()[0];
  for (int i = 0; i < repeat; ++i) {
    sum += seconds.data_as<double>()[i];
    best = std::min(best, seconds.data_as<double>()[i]);
  }
  out << "model '" << target.key << "' (" << executor.module().type_key() << " on "
      << target.device.ToString() << "): first run " << first_ms << " ms"
      << (target.remote ? " including the round trip" : "") << "; run time mean "
      << sum / repeat * 1e3 << " ms, min " << best * 1e3 << " ms over " << repeat << " runs"
      << ThreadsText(target) << "\n";
  return Status::Ok();
}

}  // namespace ferry::cli
