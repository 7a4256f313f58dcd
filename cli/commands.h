// ferry's subcommands. Each parses its own arguments (`--help` prints its usage to `out` and
// succeeds), writes results to `out`, and returns a Status that main prints as one line.
#ifndef FERRY_CLI_COMMANDS_H_
#define FERRY_CLI_COMMANDS_H_

#include <chrono>
#include <optional>
#include <ostream>
#include <span>
#include <string>

#include "rpc/tracker_client.h"
#include "runtime/status.h"
#include "util/arg_parser.h"

namespace ferry::cli {

// ferry build [MODEL.onnx ...] [--zoo NAME ...] [--name KEY ...] [--input-shape NAME=DIMS]
//             [--bind NAME=FILE] [--executor graph|aot]
//             [--no-package-params] [--seed N] [--keep-source] -o LIB
Status BuildCommand(std::span<const std::string> args, std::ostream& out);
// ferry run LIB [--name KEY] --input NAME=FILE.npy ... [--params FILE] [--output-dir DIR]
//           [--agent ENDPOINT] [--timeout SECONDS] [--repeat N] [--threads N]
Status RunCommand(std::span<const std::string> args, std::ostream& out);
// ferry time LIB [--agent ENDPOINT] [--name KEY] [--number N] [--repeat R] [--min-repeat-ms MS]
//                [--threads N]
Status TimeCommand(std::span<const std::string> args, std::ostream& out);
// ferry status --tracker ENDPOINT [--json]
Status StatusCommand(std::span<const std::string> args, std::ostream& out);
// ferry demo [--model NAME ...] [--workdir DIR]
Status DemoCommand(std::span<const std::string> args, std::ostream& out);
// ferry onnx-test [SUITE_DIR ...] [--filter TEXT] [--executor graph|aot] [--verbose]
//                 [--markdown FILE]
Status OnnxTestCommand(std::span<const std::string> args, std::ostream& out);
// ferry inspect LIB
Status InspectCommand(std::span<const std::string> args, std::ostream& out);
// ferry keygen -o PATH [--force]
Status KeygenCommand(std::span<const std::string> args, std::ostream& out);

// Prints a tracker's status as a table, or as JSON.
void PrintTrackerStatus(const rpc::TrackerStatus& status, bool json, std::ostream& out);

// Parses a command's `args` against `options`. With --help, prints `usage` and the options
// to `out` and returns nullopt (the command is done). Errors: those of util::ParseArgs.
StatusOr<std::optional<util::ParsedArgs>> ParseCommandLine(
    std::span<const std::string> args, std::span<const util::OptionSpec> options,
    std::string_view usage, std::ostream& out);

// Shared option parsing: --timeout SECONDS (default 60 s) and positive integers.
StatusOr<std::chrono::milliseconds> ParseTimeout(const std::optional<std::string>& text);
StatusOr<int> ParsePositiveInt(const std::optional<std::string>& text, const char* flag,
                               int fallback);

}  // namespace ferry::cli

#endif  // FERRY_CLI_COMMANDS_H_
