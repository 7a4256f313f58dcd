#include "util/arg_parser.h"

namespace ferry::util {

std::vector<std::string> ParsedArgs::All(const std::string& name) const {
  std::vector<std::string> out;
  auto [begin, end] = values_.equal_range(name);
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

std::optional<std::string> ParsedArgs::Get(const std::string& name) const {
  std::vector<std::string> all = All(name);
  if (all.empty()) return std::nullopt;
  return all.back();
}

StatusOr<ParsedArgs> ParseArgs(std::span<const std::string> args,
                               std::span<const OptionSpec> specs) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if ((arg[1] == '-' && s.name == name) || (arg[1] != '-' && s.short_name == name)) spec = &s;
    }
    if (spec == nullptr) return InvalidArgumentError("unknown option " + arg);
    if (!spec->takes_value) {
      if (inline_value) return InvalidArgumentError("option --" + spec->name + " takes no value");
      parsed.values_.emplace(spec->name, "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return InvalidArgumentError("option " + arg + " needs a value");
      inline_value = args[++i];
    }
    parsed.values_.emplace(spec->name, *inline_value);
  }
  return parsed;
}

std::string FormatOptions(std::span<const OptionSpec> specs) {
  std::string out;
  for (const OptionSpec& s : specs) {
    std::string left = "  " + (s.short_name.empty() ? std::string("    ") : "-" + s.short_name + ", ") +
                       "--" + s.name;
    const size_t space = s.help.find("  ");
    std::string meta = s.takes_value && space != std::string::npos ? " " + s.help.substr(0, space) : "";
    std::string text = space != std::string::npos ? s.help.substr(space + 2) : s.help;
    left += meta;
    if (left.size() < 34) left.resize(34, ' ');
    else left += "  ";
    out += left + text + "\n";
  }
  return out;
}

}  // namespace ferry::util
