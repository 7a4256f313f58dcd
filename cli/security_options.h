// The client's security options, shared by the commands that talk to agents and trackers:
//   --identity FILE         this client's CURVE secret key (default ~/.config/ferry/identity)
//   --server-key KEY|FILE   the agent's public key, for a direct --agent connection
//   --tracker-key KEY|FILE  the tracker's public key; agents it grants are trusted through it
// With an identity every connection is CURVE-encrypted and authenticated; without one it is
// plaintext (agents and trackers accept that only on loopback or with --insecure).
#ifndef FERRY_CLI_SECURITY_OPTIONS_H_
#define FERRY_CLI_SECURITY_OPTIONS_H_

#include <optional>
#include <string>

#include "rpc/client_session.h"
#include "rpc/curve_keys.h"
#include "util/arg_parser.h"

namespace ferry::cli {

#include <vector>

// --identity, --server-key, --tracker-key.
std::vector<util::OptionSpec> SecurityOptionSpecs();

struct SecurityOptions {
  std::optional<rpc::CurveKeyPair> identity;
  std::string server_key;   // Z85, or empty
  std::string tracker_key;  // Z85, or empty

  // Connection options for a direct agent / for a tracker. Errors: kInvalidArgument when the
  // identity is set but the needed server key is not (naming the flag).
  StatusOr<rpc::ConnectOptions> ForAgent(rpc::ConnectOptions base) const;
  StatusOr<rpc::ConnectOptions> ForTracker(rpc::ConnectOptions base) const;
};

// Errors: those of loading the keys; kInvalidArgument for a server key without an identity.
StatusOr<SecurityOptions> ParseSecurityOptions(const util::ParsedArgs& parsed);

}  // namespace ferry::cli

#endif  // FERRY_CLI_SECURITY_OPTIONS_H_
