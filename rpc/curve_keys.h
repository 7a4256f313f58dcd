// CURVE identities: a principal in Ferry is a CURVE key pair (ZeroMQ's CurveZMQ, Curve25519).
//
// On disk (`ferry keygen -o PATH`):
//   PATH      the secret key: one line, 40 Z85 characters; mode 0600.
//   PATH.pub  the public key: one line, 40 Z85 characters.
// An authorized-keys file lists one Z85 public key per line, optionally followed by
// whitespace and a name; '#' at the start of a line or after whitespace starts a comment
// (Z85 itself uses '#'); blank lines are ignored.
#ifndef FERRY_RPC_CURVE_KEYS_H_
#define FERRY_RPC_CURVE_KEYS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/status.h"

namespace ferry::rpc {

// Z85 text of a 32-byte Curve25519 key.
inline constexpr size_t kZ85KeyLength = 40;

struct CurveKeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// A new random key pair. Errors: kUnimplemented when libzmq was built without CURVE.
StatusOr<CurveKeyPair> GenerateCurveKeyPair();

// Writes `keys` as PATH (secret, 0600, created exclusively unless `overwrite`) and PATH.pub.
// Errors: kInvalidArgument when PATH exists and !overwrite, kUnavailable for I/O errors.
Status WriteCurveKeyPair(const std::string& path, const CurveKeyPair& keys, bool overwrite);

// Reads a secret-key file and derives its public key. Errors: kNotFound, kInvalidArgument
// (not a Z85 key), kPermissionDenied when the file is readable by group or others.
StatusOr<CurveKeyPair> LoadCurveIdentity(const std::string& path);

// `key_or_file` is either a Z85 public key itself or a file whose first non-comment line
// starts with one (a PATH.pub or an authorized-keys file); an existing regular file is read
// even when its path is 40 Z85 characters. Errors: kNotFound, kInvalidArgument.
StatusOr<std::string> LoadCurvePublicKey(const std::string& key_or_file);

// True when `text` is 40 characters that decode as Z85.
bool IsZ85Key(std::string_view text);

// Public key (Z85) -> name ("" when the line gave none).
using AuthorizedKeys = std::map<std::string, std::string, std::less<>>;

// Parses an authorized-keys file. Errors: kNotFound, kInvalidArgument naming the line.
StatusOr<AuthorizedKeys> LoadAuthorizedKeys(const std::string& path);
StatusOr<AuthorizedKeys> ParseAuthorizedKeys(std::string_view text, const std::string& source);

// A short, stable name for a key in logs: the first 16 hex digits of SHA-256 of the key's
// 32 bytes (of the text when it is not a Z85 key).
std::string KeyFingerprint(std::string_view z85_public_key);

// `~/.config/ferry/identity` when it exists (and $HOME is set), else nullopt.
std::optional<std::string> DefaultIdentityPath();

// The identity a command runs with: the file `flag` names, else the default identity when it
// exists, else none (plaintext). Errors: those of LoadCurveIdentity.
StatusOr<std::optional<CurveKeyPair>> ResolveCurveIdentity(const std::optional<std::string>& flag);

}  // namespace ferry::rpc

#endif  // FERRY_RPC_CURVE_KEYS_H_
