#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_target.h"
#include "util/arg_parser.h"

namespace ferry::cli {
namespace {

using util::OptionSpec;

const OptionSpec kOptions[] = {
    {"name", "", true, "KEY  the model to time (default: the library's only model)"},
    {"number", "", true, "N  runs per repeat (default: 1)"},
    {"repeat", "", true, "R  repeats (default: 10)"},
    {"min-repeat-ms", "", true, "MS  raise --number until a repeat lasts this long (default: 0)"},
    {"cooldown-ms", "", true, "MS  pause between repeats (default: 0)"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry time LIB [--agent tcp://HOST:PORT | --tracker tcp://HOST:PORT --key KEY]\n"
    "                  [--name KEY] [--number N] [--repeat R]\n"
    "                  [--min-repeat-ms MS] [--threads N]\n\n"
    "Times a model's run with time_evaluator where the model runs (inputs are zeros) and\n"
    "prints the statistics of the per-repeat means.\n\noptions:\n";

}  // namespace

Status TimeCommand(std::span<const std::string> args, std::ostream& out) {
  std::vector<OptionSpec> specs(std::begin(kOptions), std::end(kOptions));
  for (util::OptionSpec& spec : PlacementOptionSpecs()) specs.push_back(std::move(spec));
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, specs, kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  if (parsed.positional().size() != 1) {
    return InvalidArgumentError("expected exactly one library argument (ferry time LIB ...)");
  }
  TimeEvaluatorOptions options;
  ASSIGN_OR_RETURN(options.number, ParsePositiveInt(parsed.Get("number"), "--number", 1));
  ASSIGN_OR_RETURN(options.repeat, ParsePositiveInt(parsed.Get("repeat"), "--repeat", 10));
  if (parsed.Has("min-repeat-ms")) {
    ASSIGN_OR_RETURN(options.min_repeat_ms,
                     ParsePositiveInt(parsed.Get("min-repeat-ms"), "--min-repeat-ms", 0));
  }
  if (parsed.Has("cooldown-ms")) {
    ASSIGN_OR_RETURN(options.cooldown_ms,
                     ParsePositiveInt(parsed.Get("cooldown-ms"), "--cooldown-ms", 0));
  }
  ASSIGN_OR_RETURN(Placement placement, ParsePlacement(parsed));
  ASSIGN_OR_RETURN(ModelTarget target,
                   OpenModelTarget(parsed.positional()[0], parsed.Get("name"), placement));
  ASSIGN_OR_RETURN(PackedFunc timer, target.RunTimer(options));
  ASSIGN_OR_RETURN(Value result, timer.Call());
  ASSIGN_OR_RETURN(NDArray seconds_array, result.As<NDArray>());
  std::vector<double> ms(seconds_array.data_as<double>(),
                         seconds_array.data_as<double>() + seconds_array.NumElements());
  for (double& v : ms) v *= 1e3;
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double mean = 0;
  for (double v : ms) mean += v;
  mean /= static_cast<double>(ms.size());
  double variance = 0;
  for (double v : ms) variance += (v - mean) * (v - mean);
  const double stddev = std::sqrt(variance / static_cast<double>(ms.size()));
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  char line[256];
  std::snprintf(line, sizeof(line),
                "mean %.4f ms, median %.4f ms, min %.4f ms, max %.4f ms, stddev %.4f ms", mean,
                median, sorted.front(), sorted.back(), stddev);
  out << "model '" << target.key << "' on " << target.device.ToString() << ", "
      << options.repeat << " repeats of " << options.number << " run(s)" << ThreadsText(target)
      << ":\n  " << line << "\n";
  return Status::Ok();
}

}  // namespace ferry::cli
