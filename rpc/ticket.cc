#include "rpc/ticket.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <charconv>
#include <vector>

#include "runtime/file_util.h"
#include "util/hex.h"

namespace ferry::rpc {
namespace {

std::string Payload(const Ticket& t) {
  return t.agent_id + "|" + t.client_id + "|" + std::to_string(t.lease_id) + "|" +
         std::to_string(t.expiry_ms);
}

template <typename T>
bool ParseNumber(std::string_view text, T* value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::string HmacSha256Hex(std::string_view payload, std::string_view secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &length);
  return util::HexEncode(std::string_view(reinterpret_cast<const char*>(mac), length));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StatusOr<std::string> SignTicket(const Ticket& ticket, std::string_view secret) {
  if (secret.empty()) return InvalidArgumentError("cannot sign a ticket without a secret");
  if (ticket.agent_id.find('|') != std::string::npos ||
      ticket.client_id.find('|') != std::string::npos) {
    return InvalidArgumentError("ticket fields may not contain '|'");
  }
  const std::string payload = Payload(ticket);
  return payload + "|" + HmacSha256Hex(payload, secret);
}

StatusOr<Ticket> VerifyTicket(std::string_view text, std::string_view secret, int64_t now_ms) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() < 5) {
    const size_t bar = text.find('|', start);
    parts.push_back(text.substr(start, bar == std::string_view::npos ? bar : bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  Ticket t;
  if (parts.size() != 5 || parts[4].size() != 64 || !ParseNumber(parts[2], &t.lease_id) ||
      !ParseNumber(parts[3], &t.expiry_ms)) {
    return PermissionDeniedError("malformed session ticket");
  }
  t.agent_id = std::string(parts[0]);
  t.client_id = std::string(parts[1]);
  if (!ConstantTimeEquals(HmacSha256Hex(Payload(t), secret), parts[4])) {
    return PermissionDeniedError("forged session ticket (bad signature)");
  }
  if (t.expiry_ms <= now_ms) return PermissionDeniedError("expired session ticket");
  return t;
}

StatusOr<std::string> LoadSecretFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string data, ReadFile(path, 1 << 16));
  const size_t begin = data.find_first_not_of(" \t\r\n");
  const size_t end = data.find_last_not_of(" \t\r\n");
  std::string secret = begin == std::string::npos ? "" : data.substr(begin, end - begin + 1);
  if (secret.size() < 16) {
    return InvalidArgumentError("secret file " + path + " holds fewer than 16 bytes");
  }
  return secret;
}

}  // namespace ferry::rpc
