#include <charconv>

#include "util/arg_parser.h"
#include "cli/commands.h"
#include "compiler/export_library.h"
#include "compiler/zoo.h"

namespace ferry::cli {

using util::OptionSpec;
using util::ParseArgs;
using util::ParsedArgs;
using util::FormatOptions;
namespace {

const OptionSpec kOptions[] = {
    {"zoo", "", true, "NAME  a built-in model (mlp, cnn); repeat to bundle several"},
    {"name", "", true, "KEY  the key of the matching --zoo model (default: its zoo name)"},
    {"executor", "", true, "KIND  graph (default) or aot"},
    {"no-package-params", "", false, "write the parameters to LIB.params instead of LIB"},
    {"seed", "", true, "N  seed of the zoo's random weights"},
    {"keep-source", "", false, "keep the generated C++ source as LIB.cc"},
    {"output", "o", true, "LIB  the model library to write (.so)"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry build --zoo NAME [--zoo NAME ...] -o LIB [options]\n\n"
    "Builds models into one model library (a shared object) with the system C++ compiler.\n\n"
    "options:\n";

}  // namespace

Status BuildCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, kOptions, kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  if (!parsed.positional().empty()) {
    return InvalidArgumentError("unexpected argument '" + parsed.positional()[0] +
                                "' (model files are not supported yet; use --zoo)");
  }
  const std::vector<std::string> zoo = parsed.All("zoo");
  const std::vector<std::string> names = parsed.All("name");
  const std::optional<std::string> output = parsed.Get("output");
  if (zoo.empty()) return InvalidArgumentError("nothing to build: give --zoo NAME");
  if (!output) return InvalidArgumentError("missing -o LIB");
  if (names.size() > zoo.size()) {
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

  std::vector<compiler::Model> models;
  for (size_t i = 0; i < zoo.size(); ++i) {
    ASSIGN_OR_RETURN(compiler::Model model, compiler::BuildZooModel(zoo[i], seed));
    if (i < names.size()) model.key = names[i];
    models.push_back(std::move(model));
  }
  std::vector<compiler::ModelBuild> builds;
  for (const compiler::Model& m : models) builds.push_back({&m, executor});
  compiler::ExportOptions options;
  options.package_params = !parsed.Has("no-package-params");
  options.keep_source = parsed.Has("keep-source");
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
