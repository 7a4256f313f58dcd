// Option values shared by the commands (declared in commands.h).
#include <string>

#include "cli/commands.h"

namespace ferry::cli {

StatusOr<std::optional<util::ParsedArgs>> ParseCommandLine(
    std::span<const std::string> args, std::span<const util::OptionSpec> options,
    std::string_view usage, std::ostream& out) {
  ASSIGN_OR_RETURN(util::ParsedArgs parsed, util::ParseArgs(args, options));
  if (parsed.Has("help")) {
    out << usage << util::FormatOptions(options);
    return std::optional<util::ParsedArgs>();
  }
  return std::optional<util::ParsedArgs>(std::move(parsed));
}

StatusOr<std::chrono::milliseconds> ParseTimeout(const std::optional<std::string>& text) {
  if (!text) return std::chrono::milliseconds(60000);
  try {
    size_t used = 0;
    const double seconds = std::stod(*text, &used);
    if (used == text->size() && seconds > 0 && seconds < 1e6) {
      return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    }
  } catch (const std::exception&) {
  }
  return InvalidArgumentError("--timeout must be a positive number of seconds");
}

StatusOr<int> ParsePositiveInt(const std::optional<std::string>& text, const char* flag,
                               int fallback) {
  if (!text) return fallback;
  try {
    size_t used = 0;
    const int v = std::stoi(*text, &used);
    if (used == text->size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  return InvalidArgumentError(std::string(flag) + " must be a positive integer");
}

}  // namespace ferry::cli
