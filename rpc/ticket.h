// Session tickets: what a tracker's grant carries and an agent under that tracker demands.
//
// A ticket names the agent, the client, the lease and an expiry (wall-clock milliseconds
// since the Unix epoch, since tracker and agent run on different machines), signed with
// HMAC-SHA256 under a secret the tracker and its agents share. Text form:
//   "<agent_id>|<client_id>|<lease_id>|<expiry_ms>|<64 hex digits of the HMAC>"
#ifndef FERRY_RPC_TICKET_H_
#define FERRY_RPC_TICKET_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/status.h"

namespace ferry::rpc {

struct Ticket {
  std::string agent_id;
  std::string client_id;
  uint64_t lease_id = 0;
  int64_t expiry_ms = 0;
};

// Milliseconds since the Unix epoch now.
int64_t WallClockMs();

// Errors: kInvalidArgument for an empty secret or fields containing '|'.
StatusOr<std::string> SignTicket(const Ticket& ticket, std::string_view secret);

// Checks the signature (in constant time) and the expiry against `now_ms`. Errors:
// kPermissionDenied naming the problem: malformed, forged (bad signature), expired.
StatusOr<Ticket> VerifyTicket(std::string_view text, std::string_view secret, int64_t now_ms);

// Lowercase hex of HMAC-SHA256(`secret`, `payload`): 64 characters. What tickets and agent
// heartbeats (rpc/agent_heartbeat.h) are signed with.
std::string HmacSha256Hex(std::string_view payload, std::string_view secret);

// True when `a` and `b` are equal, comparing in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Reads a shared secret file (at least 16 bytes; surrounding whitespace ignored).
// Errors: kNotFound, kInvalidArgument when too short.
StatusOr<std::string> LoadSecretFile(const std::string& path);

}  // namespace ferry::rpc

#endif  // FERRY_RPC_TICKET_H_
