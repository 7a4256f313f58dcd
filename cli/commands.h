// ferry's subcommands. Each parses its own arguments (`--help` prints its usage to `out` and
// succeeds), writes results to `out`, and returns a Status that main prints as one line.
#ifndef FERRY_CLI_COMMANDS_H_
#define FERRY_CLI_COMMANDS_H_

#include <ostream>
#include <span>
#include <string>

#include "runtime/status.h"

namespace ferry::cli {

// ferry build --zoo NAME [--zoo NAME ...] [--name KEY ...] [--executor graph|aot]
//             [--no-package-params] [--seed N] [--keep-source] -o LIB
Status BuildCommand(std::span<const std::string> args, std::ostream& out);
// ferry run LIB [--name KEY] --input NAME=FILE.npy ... [--params FILE] [--output-dir DIR]
//           [--repeat N]
Status RunCommand(std::span<const std::string> args, std::ostream& out);
// ferry inspect LIB
Status InspectCommand(std::span<const std::string> args, std::ostream& out);

}  // namespace ferry::cli

#endif  // FERRY_CLI_COMMANDS_H_
