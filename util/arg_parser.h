// A small command-line parser for ferry's subcommands: `--name value`, `--name=value`,
// repeatable options, boolean flags, `-o` style short aliases and positional arguments.
#ifndef FERRY_UTIL_ARG_PARSER_H_
#define FERRY_UTIL_ARG_PARSER_H_

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/status.h"

namespace ferry::util {

struct OptionSpec {
  std::string name;        // "output" for --output
  std::string short_name;  // "o" for -o; may be empty
  bool takes_value = true;
  std::string help;        // "PATH  where to write the library"
};

class ParsedArgs {
 public:
  const std::vector<std::string>& positional() const { return positional_; }
  // All values of a repeatable option, in order.
  std::vector<std::string> All(const std::string& name) const;
  // The last value, or nullopt.
  std::optional<std::string> Get(const std::string& name) const;
  bool Has(const std::string& name) const { return values_.count(name) > 0; }

 private:
  friend StatusOr<ParsedArgs> ParseArgs(std::span<const std::string>, std::span<const OptionSpec>);
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> values_;
};

// Errors: kInvalidArgument for an unknown option or a missing value.
StatusOr<ParsedArgs> ParseArgs(std::span<const std::string> args, std::span<const OptionSpec> specs);

// "  -o, --output PATH  where to write the library" lines.
std::string FormatOptions(std::span<const OptionSpec> specs);

}  // namespace ferry::util

#endif  // FERRY_UTIL_ARG_PARSER_H_
