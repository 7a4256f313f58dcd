#include <fstream>

#include "cli/commands.h"
#include "compiler/onnx/conformance.h"
#include "util/arg_parser.h"

namespace ferry::cli {
namespace {

using util::OptionSpec;

const OptionSpec kOptions[] = {
    {"filter", "", true, "TEXT  only cases whose name contains TEXT"},
    {"executor", "", true, "KIND  graph (default) or aot"},
    {"batch", "", true, "N  models per library (default: 64)"},
    {"verbose", "v", false, "list every case, not only failed and unsupported ones"},
    {"markdown", "", true, "FILE  also write the operator table with the results as Markdown"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry onnx-test [SUITE_DIR ...] [--filter TEXT] [--executor graph|aot] [--verbose]\n\n"
    "Builds and runs ONNX's backend test cases whose operators Ferry imports and compares\n"
    "their outputs with the expected ones (rtol 1e-3, atol 1e-5). SUITE_DIR holds one folder\n"
    "per case (model.onnx, test_data_set_*); the default is libonnx-testdata's node and\n"
    "pytorch-converted suites. Fails when any case fails.\n\noptions:\n";

}  // namespace

Status OnnxTestCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, kOptions, kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  compiler::onnx_import::ConformanceOptions options;
  options.suites = parsed.positional();
  if (options.suites.empty()) {
    const std::string root = compiler::onnx_import::kOnnxTestDataRoot;
    options.suites = {root + "/node", root + "/pytorch-converted"};
  }
  options.filter = parsed.Get("filter").value_or("");
  ASSIGN_OR_RETURN(options.executor, ParseExecutorKind(parsed.Get("executor").value_or("graph")));
  ASSIGN_OR_RETURN(int batch, ParsePositiveInt(parsed.Get("batch"), "--batch", 64));
  options.batch_size = static_cast<size_t>(batch);
  options.progress = &out;
  ASSIGN_OR_RETURN(compiler::onnx_import::ConformanceReport report,
                   compiler::onnx_import::RunConformance(options));
  compiler::onnx_import::PrintConformanceReport(report, parsed.Has("verbose"), out);
  if (auto path = parsed.Get("markdown")) {
    std::ofstream file(*path);
    compiler::onnx_import::PrintConformanceMarkdown(report, file);
    if (!file.good()) return UnavailableError("cannot write " + *path);
  }
  const size_t failed = report.Count(compiler::onnx_import::Outcome::kFailed);
  if (failed > 0) return InternalError(std::to_string(failed) + " conformance cases failed");
  return Status::Ok();
}

}  // namespace ferry::cli
