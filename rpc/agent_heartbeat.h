// Signed agent -> tracker messages: AgentHeartbeat and AgentGoodbye (docs/protocol.md,
// "Tracker").
//
// Each body is `[signed, hmac]`: `signed` is a msgpack bin holding the msgpack encoding of the
// fields, led by a purpose string ("ferry.heartbeat" / "ferry.goodbye") and ended by the
// sender's sequence number and wall clock; `hmac` is the lowercase hex HMAC-SHA256 of those
// exact bytes under the secret the tracker and its agents share. Verifying covers the bytes as
// sent, so no canonical re-encoding is involved.
//
// Verify* checks the signature and decodes; freshness (a sequence number above the last one
// seen from the agent, a wall clock near the receiver's) is the receiver's state to keep
// (tracker/agent_replay_guard.h).
#ifndef FERRY_RPC_AGENT_HEARTBEAT_H_
#define FERRY_RPC_AGENT_HEARTBEAT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rpc/message.h"
#include "rpc/protocol.h"

namespace ferry::rpc {

struct AgentDevice {
  std::string type;  // "cpu", "cuda"
  int count = 0;
  uint64_t memory = 0;
  std::string name;
};

struct AgentHeartbeat {
  std::string agent_id;
  std::string key;
  std::string address;  // where clients connect, tcp://HOST:PORT
  std::vector<AgentDevice> devices;
  std::map<std::string, std::string> tags;
  std::vector<uint64_t> active_leases;
  std::string public_key;  // the agent's CURVE public key (Z85), "" when it has none
};

struct AgentGoodbye {
  std::string agent_id;
  std::string public_key;  // as in its heartbeats
};

// What makes a signed message fresh: the sender's counter and clock when it was sent.
struct SignedStamp {
  uint64_t sequence = 0;  // strictly increasing per agent process
  int64_t wall_ms = 0;    // milliseconds since the Unix epoch
};

template <typename T>
struct Verified {
  T message;
  SignedStamp stamp;
};

// A sequence number for the next signed message of this process: strictly increasing across
// all calls (thread-safe), starting from the wall clock in microseconds so that it also
// increases across restarts of a process that keeps its agent id.
uint64_t NextAgentSequence();

// The message frames, one-way (request id 0), with `deadline_ms` in the header.
// `secret` must be non-empty (a broken precondition throws).
Frames EncodeAgentHeartbeat(const AgentHeartbeat& heartbeat, std::string_view secret,
                            SignedStamp stamp, uint32_t deadline_ms);
Frames EncodeAgentGoodbye(const AgentGoodbye& goodbye, std::string_view secret,
                          SignedStamp stamp, uint32_t deadline_ms);

// Checks the signature of a parsed AgentHeartbeat / AgentGoodbye (of the right type) and
// decodes it. Errors: kPermissionDenied ("forged ...") for a bad or missing signature;
// kInvalidArgument for a well-signed body that does not decode (and a public key that is
// neither "" nor 40 characters).
StatusOr<Verified<AgentHeartbeat>> VerifyAgentHeartbeat(const ParsedMessage& m,
                                                        std::string_view secret);
StatusOr<Verified<AgentGoodbye>> VerifyAgentGoodbye(const ParsedMessage& m,
                                                    std::string_view secret);

}  // namespace ferry::rpc

#endif  // FERRY_RPC_AGENT_HEARTBEAT_H_
