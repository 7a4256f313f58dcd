#include <map>

#include "util/arg_parser.h"
#include "cli/commands.h"
#include "runtime/library_module.h"

namespace ferry::cli {

using util::OptionSpec;
using util::ParseArgs;
using util::ParsedArgs;
using util::FormatOptions;
namespace {

const OptionSpec kOptions[] = {
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry inspect LIB\n\n"
    "Lists a model library's models: executor kind, inputs and outputs with shapes and dtypes,\n"
    "kernels, and parameter count and size.\n\noptions:\n";

void PrintModel(const ModelRecord& m, std::ostream& out) {
  const ExecGraph& g = m.graph;
  out << "model '" << m.key << "'\n";
  out << "  executor:   " << ExecutorKindName(m.executor);
  if (m.executor == ExecutorKind::kAot) {
    out << " (entry " << m.aot_entry << ", workspace " << m.workspace_bytes << " bytes)";
  }
  out << "\n";
  for (const NamedEntry& in : g.inputs) {
    out << "  input:      " << in.name << " " << g.entries[in.entry].ToString() << "\n";
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    out << "  output:     output_" << i << " " << g.entries[g.outputs[i]].ToString() << "\n";
  }
  int64_t param_bytes = 0;
  for (const NamedEntry& p : g.params) {
    const TensorInfo& t = g.entries[p.entry];
    int64_t elements = 1;
    for (int64_t d : t.shape) elements *= d;
    param_bytes += elements * static_cast<int64_t>(t.dtype.bytes());
  }
  out << "  parameters: " << g.params.size() << " arrays, " << param_bytes << " bytes, "
      << (m.params_packaged ? "packaged in the library" : "in a separate params file") << "\n";
  std::map<std::string, int> op_counts;
  for (const GraphNode& node : g.nodes) ++op_counts[node.op];
  out << "  kernels:    " << g.nodes.size() << " nodes:";
  for (const auto& [op, count] : op_counts) out << " " << op << " x" << count;
  out << "\n";
  for (const GraphNode& node : g.nodes) {
    out << "    " << node.func_name << "  (" << node.name << ": " << node.op << " -> "
        << g.entries[node.outputs[0]].ToString() << ")\n";
  }
}

}  // namespace

Status InspectCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, kOptions, kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  if (parsed.positional().size() != 1) {
    return InvalidArgumentError("expected exactly one library argument (ferry inspect LIB)");
  }
  ASSIGN_OR_RETURN(Module library, LoadModule(parsed.positional()[0]));
  ASSIGN_OR_RETURN(auto manifest, GetLibraryManifest(library));
  out << parsed.positional()[0] << ": " << manifest->models.size() << " model(s)\n";
  for (const ModelRecord& m : manifest->models) PrintModel(m, out);
  return Status::Ok();
}

}  // namespace ferry::cli
