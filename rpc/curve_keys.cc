#include "rpc/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <openssl/evp.h>
#include <zmq.h>

#include "runtime/file_util.h"
#include "util/hex.h"

namespace ferry::rpc {
namespace {

constexpr size_t kKeyFileMaxBytes = 1 << 20;

std::string Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

// `line` without its comment, trimmed. Z85 keys may contain '#', so a comment starts only
// at a '#' that begins the line or follows whitespace.
std::string StripComment(const std::string& line) {
  size_t hash = line.find('#');
  while (hash != std::string::npos && hash > 0 && line[hash - 1] != ' ' && line[hash - 1] != '\t') {
    hash = line.find('#', hash + 1);
  }
  return Trim(std::string_view(line).substr(0, hash));
}

// The first line of `text` that is neither blank nor a comment, trimmed.
std::string FirstKeyLine(std::string_view text) {
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::string content = StripComment(line);
    if (!content.empty()) return content;
  }
  return "";
}

Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode, bool overwrite) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return InvalidArgumentError(path + " already exists; remove it first or pass --force");
    }
    return UnavailableError("cannot write " + path + ": " + std::strerror(errno));
  }
  // O_CREAT's mode does not apply to an existing file being overwritten.
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  ::close(fd);
  if (!ok) return UnavailableError("cannot write " + path + ": " + std::strerror(saved));
  return Status::Ok();
}

}  // namespace

bool IsZ85Key(std::string_view text) {
  if (text.size() != kZ85KeyLength) return false;
  const std::string copy(text);
  uint8_t decoded[32];
  return zmq_z85_decode(decoded, copy.c_str()) != nullptr;
}

StatusOr<CurveKeyPair> GenerateCurveKeyPair() {
  if (!zmq_has("curve")) return UnimplementedError("this libzmq was built without CURVE");
  char public_key[kZ85KeyLength + 1];
  char secret_key[kZ85KeyLength + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return InternalError(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{public_key, secret_key};
}

Status WriteCurveKeyPair(const std::string& path, const CurveKeyPair& keys, bool overwrite) {
  if (!IsZ85Key(keys.public_key) || !IsZ85Key(keys.secret_key)) {
    return InvalidArgumentError("not a CURVE key pair");
  }
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (!overwrite && std::filesystem::exists(path + ".pub", ec)) {
    return InvalidArgumentError(path + ".pub already exists; remove it first or pass --force");
  }
  RETURN_IF_ERROR(WriteNewFile(path, keys.secret_key + "\n", 0600, overwrite));
  return WriteNewFile(path + ".pub", keys.public_key + "\n", 0644, /*overwrite=*/true);
}

StatusOr<CurveKeyPair> LoadCurveIdentity(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return NotFoundError("no identity file " + path);
  if ((info.st_mode & 077) != 0) {
    return PermissionDeniedError("identity file " + path +
                                 " is readable by others; run chmod 600 " + path);
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, kKeyFileMaxBytes));
  const std::string secret = FirstKeyLine(text);
  if (!IsZ85Key(secret)) {
    return InvalidArgumentError(path + " does not hold a CURVE secret key (40 Z85 characters)");
  }
  char public_key[kZ85KeyLength + 1];
  if (zmq_curve_public(public_key, secret.c_str()) != 0) {
    return InvalidArgumentError(path + ": cannot derive the public key: " +
                                zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{public_key, secret};
}

StatusOr<std::string> LoadCurvePublicKey(const std::string& key_or_file) {
  // A file of that name wins: a path can be 40 Z85 characters too ("/tmp/xxx-XXXXXX/t.pub").
  std::error_code error;
  if (IsZ85Key(key_or_file) && !std::filesystem::is_regular_file(key_or_file, error)) {
    return key_or_file;
  }
  StatusOr<std::string> text = ReadFile(key_or_file, kKeyFileMaxBytes);
  if (!text.ok()) {
    return NotFoundError("'" + key_or_file + "' is neither a CURVE public key nor a readable file");
  }
  std::string line = FirstKeyLine(*text);
  line = line.substr(0, line.find_first_of(" \t"));
  if (!IsZ85Key(line)) {
    return InvalidArgumentError(key_or_file + " does not start with a CURVE public key");
  }
  return line;
}

StatusOr<AuthorizedKeys> ParseAuthorizedKeys(std::string_view text, const std::string& source) {
  AuthorizedKeys keys;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const std::string content = StripComment(line);
    if (content.empty()) continue;
    const size_t space = content.find_first_of(" \t");
    const std::string key = content.substr(0, space);
    if (!IsZ85Key(key)) {
      return InvalidArgumentError(source + ":" + std::to_string(number) +
                                  ": not a CURVE public key (40 Z85 characters)");
    }
    keys[key] = space == std::string::npos ? "" : Trim(content.substr(space));
  }
  return keys;
}

StatusOr<AuthorizedKeys> LoadAuthorizedKeys(const std::string& path) {
  StatusOr<std::string> text = ReadFile(path, kKeyFileMaxBytes);
  if (!text.ok()) return NotFoundError("cannot read authorized keys " + path);
  return ParseAuthorizedKeys(*text, path);
}

std::string KeyFingerprint(std::string_view z85_public_key) {
  std::string bytes(z85_public_key);
  uint8_t decoded[32];
  if (IsZ85Key(z85_public_key) && zmq_z85_decode(decoded, bytes.c_str()) != nullptr) {
    bytes.assign(reinterpret_cast<const char*>(decoded), sizeof(decoded));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return util::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), 8));
}

std::optional<std::string> DefaultIdentityPath() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return std::nullopt;
  std::string path = std::string(home) + "/.config/ferry/identity";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  return path;
}

StatusOr<std::optional<CurveKeyPair>> ResolveCurveIdentity(
    const std::optional<std::string>& flag) {
  std::optional<std::string> path = flag ? flag : DefaultIdentityPath();
  if (!path) return std::optional<CurveKeyPair>();
  ASSIGN_OR_RETURN(CurveKeyPair keys, LoadCurveIdentity(*path));
  return std::optional<CurveKeyPair>(std::move(keys));
}

}  // namespace ferry::rpc
