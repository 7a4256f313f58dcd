#include "cli/security_options.h"

namespace ferry::cli {
namespace {

StatusOr<rpc::ConnectOptions> WithServerKey(rpc::ConnectOptions options,
                                            const std::optional<rpc::CurveKeyPair>& identity,
                                            const std::string& server_key, const char* flag) {
  if (!identity) return options;
  if (server_key.empty()) {
    return InvalidArgumentError(std::string("an identity needs the server's public key: pass ") +
                                flag);
  }
  options.channel.curve_identity = identity;
  options.channel.curve_server_key = server_key;
  return options;
}

}  // namespace

std::vector<util::OptionSpec> SecurityOptionSpecs() {
  return {
      {"identity", "", true, "FILE  this client's CURVE secret key (default ~/.config/ferry/identity)"},
      {"server-key", "", true, "KEY|FILE  the agent's CURVE public key (with --agent)"},
      {"tracker-key", "", true, "KEY|FILE  the tracker's CURVE public key (with --tracker)"},
  };
}

StatusOr<SecurityOptions> ParseSecurityOptions(const util::ParsedArgs& parsed) {
  SecurityOptions options;
  ASSIGN_OR_RETURN(options.identity, rpc::ResolveCurveIdentity(parsed.Get("identity")));
  if (auto key = parsed.Get("server-key")) {
    ASSIGN_OR_RETURN(options.server_key, rpc::LoadCurvePublicKey(*key));
  }
  if (auto key = parsed.Get("tracker-key")) {
    ASSIGN_OR_RETURN(options.tracker_key, rpc::LoadCurvePublicKey(*key));
  }
  if (!options.identity && (!options.server_key.empty() || !options.tracker_key.empty())) {
    return InvalidArgumentError(
        "--server-key and --tracker-key need --identity (or ~/.config/ferry/identity)");
  }
  return options;
}

StatusOr<rpc::ConnectOptions> SecurityOptions::ForAgent(rpc::ConnectOptions base) const {
  return WithServerKey(std::move(base), identity, server_key, "--server-key");
}

StatusOr<rpc::ConnectOptions> SecurityOptions::ForTracker(rpc::ConnectOptions base) const {
  return WithServerKey(std::move(base), identity, tracker_key, "--tracker-key");
}

}  // namespace ferry::cli
