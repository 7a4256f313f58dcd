// ferry: build, run and inspect model libraries.
#include <malloc.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "runtime/build_config.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  ferry::Status (*run)(std::span<const std::string>, std::ostream&);
};

constexpr Command kCommands[] = {
    {"build", "build models into a model library", ferry::cli::BuildCommand},
    {"run", "run a model of a library on .npy inputs", ferry::cli::RunCommand},
    {"time", "time a model's run, here or on an agent", ferry::cli::TimeCommand},
    {"inspect", "describe the models of a library", ferry::cli::InspectCommand},
    {"status", "show a tracker's agents and queue", ferry::cli::StatusCommand},
    {"keygen", "write a CURVE key pair (an identity)", ferry::cli::KeygenCommand},
    {"onnx-test", "run ONNX's backend test cases through Ferry", ferry::cli::OnnxTestCommand},
    {"demo", "build, run here and through a local tracker and agents", ferry::cli::DemoCommand},
};

void PrintUsage(std::ostream& out) {
  out << "usage: ferry COMMAND [options]   (ferry COMMAND --help for details)\n\ncommands:\n";
  for (const Command& c : kCommands) out << "  " << c.name << "\t" << c.summary << "\n";
}

// One line: newlines of multi-line messages (compiler output) become " | ".
std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      if (!out.empty() && out.back() != ' ') out += " | ";
    } else {
      out += c;
    }
  }
  constexpr size_t kMax = 2000;
  return out.size() > kMax ? out.substr(0, kMax) + "..." : out;
}

}  // namespace

int main(int argc, char** argv) {
  // As in the session worker: keep chunk buffers of remote copies in the heap.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "ferry " << FERRY_VERSION << "\n";
    return 0;
  }
  for (const Command& c : kCommands) {
    if (args[0] != c.name) continue;
    try {
      const ferry::Status status = c.run(std::span(args).subspan(1), std::cout);
      if (!status.ok()) {
        std::cerr << "ferry " << c.name << ": error: " << OneLine(status.message()) << "\n";
        return 1;
      }
      return 0;
    } catch (const std::exception& e) {
      // A broken invariant (FERRY_CHECK) or an allocation failure: still one line.
      std::cerr << "ferry " << c.name << ": internal error: " << OneLine(e.what()) << "\n";
      return 1;
    }
  }
  std::cerr << "ferry: error: unknown command '" << args[0] << "' (try ferry --help)\n";
  return 2;
}
