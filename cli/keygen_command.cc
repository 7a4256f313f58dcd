// ferry keygen -o PATH [--force]: writes a CURVE key pair (PATH secret, PATH.pub public).
#include <iostream>

#include "cli/commands.h"
#include "rpc/curve_keys.h"

namespace ferry::cli {
namespace {

const util::OptionSpec kOptions[] = {
    {"output", "o", true, "PATH  where to write the secret key (PATH.pub gets the public key)"},
    {"force", "", false, "overwrite an existing key pair"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry keygen -o PATH [--force]\n\n"
    "Writes a new CURVE identity: PATH holds the secret key (mode 0600), PATH.pub the public\n"
    "key (one line, 40 Z85 characters) to list in an agent's or tracker's authorized keys.\n"
    "Commands use ~/.config/ferry/identity when --identity is not given.\n\noptions:\n";

}  // namespace

Status KeygenCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> parsed,
                   ParseCommandLine(args, kOptions, kUsage, out));
  if (!parsed) return Status::Ok();
  if (!parsed->positional().empty()) {
    return InvalidArgumentError("unexpected argument '" + parsed->positional()[0] + "'");
  }
  std::optional<std::string> path = parsed->Get("output");
  if (!path) return InvalidArgumentError("keygen needs -o PATH");
  ASSIGN_OR_RETURN(rpc::CurveKeyPair keys, rpc::GenerateCurveKeyPair());
  RETURN_IF_ERROR(rpc::WriteCurveKeyPair(*path, keys, parsed->Has("force")));
  out << "secret key: " << *path << " (keep it private)\n"
      << "public key: " << *path << ".pub\n"
      << keys.public_key << "  fingerprint " << rpc::KeyFingerprint(keys.public_key) << "\n";
  return Status::Ok();
}

}  // namespace ferry::cli
