// Ferry's wire protocol, version 1 (docs/protocol.md is the normative description).
//
// A message is a ZeroMQ multipart message (frames.h). Frame 0 is a msgpack header; frames 1..
// carry bulk bytes (tensor data, file chunks, `bytes` values) that the header refers to by
// index. This header is the protocol's constants and types only, with no ZeroMQ in it.
//
//   request: [version, type, request_id, deadline_ms, body]
//   reply:   [version, kReply, request_id, status_code, message, body]
//
// `body` is a msgpack array whose layout depends on the type (MessageType below).
// deadline_ms is the time the caller will wait, in milliseconds from sending; a server does
// not start work whose deadline has passed. Status codes are StatusCode values.
#ifndef FERRY_RPC_PROTOCOL_H_
#define FERRY_RPC_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::rpc {

inline constexpr uint32_t kProtocolVersion = 1;
// Versions this build speaks; a peer outside the range is refused at session start.
inline constexpr uint32_t kMinProtocolVersion = 1;
inline constexpr uint32_t kMaxProtocolVersion = 1;

enum class MessageType : uint8_t {
  kOpenSession = 1,        // client -> agent: [min_version, max_version, ticket?]
                           //   -> [version, session_id, worker_endpoint, token]
  kSessionStatus = 2,      // client -> agent: [session_id] -> [alive, reason]
  kHello = 3,              // client -> worker: [token] -> []
  kCloseSession = 4,       // client -> worker: [] -> [] ; the worker then exits
  kGetGlobalFunction = 5,  // [name] -> [value]
  kGetModuleFunction = 6,  // [module_handle, name] -> [value]
  kCallFunction = 7,       // [function_handle, [value...], inline_bytes?] -> [value]
  kReleaseHandles = 8,     // [[handle...]] ; one-way, no reply
  kDeviceAttributes = 9,   // [device] -> [exists, name, total_memory, compute_units, version]
  kAllocArray = 10,        // [shape, dtype, device] -> [value]
  kCopyToRemote = 11,      // [array_handle, offset] + 1 frame -> []
  kCopyFromRemote = 12,    // [array_handle, offset, size] -> [] + 1 frame
  kCopyRemoteToRemote = 13,  // [from_handle, to_handle] -> []
  kStreamSync = 14,        // [device] -> []
  kUploadBegin = 15,       // [label, sha256_hex, size] -> [complete]
  kUploadChunk = 16,       // [label, offset] + 1 frame -> []
  kUploadEnd = 17,         // [label] -> []
  kDownload = 18,          // [label, offset, max_bytes] -> [file_size] + 1 frame
  kListFiles = 19,         // [] -> [[label, size]...]
  kRemoveFile = 20,        // [label] -> []
  kLoadModule = 21,        // [label] -> [value]
  kTimeEvaluator = 22,     // [module_handle, name, device, number, repeat, min_repeat_ms,
                           //  cooldown_ms] -> [value]
  kCallSequence = 23,      // [[[function_handle, [value...]]...], inline_bytes] -> [[value...]]
  // Tracker messages (docs/protocol.md, "Tracker").
  kAgentHeartbeat = 30,    // agent -> tracker: [signed, hmac] (rpc/agent_heartbeat.h) ; one-way
  kAgentGoodbye = 31,      // agent -> tracker: [signed, hmac] ; one-way
  kRequestDevice = 32,     // client -> tracker: [key, tags, priority, timeout_ms]
                           //   -> [agent_address, ticket, lease_id, agent_id, agent_public_key]
                           //      when granted
  kCancelRequest = 33,     // client -> tracker: [request_id of the RequestDevice] -> [cancelled]
  kReleaseLease = 34,      // client -> tracker: [lease_id] ; one-way
  kTrackerStatus = 35,     // client -> tracker: [] -> [agents, queue]
  kReply = 100,
};

std::string_view MessageTypeName(MessageType type);

// Decoding limits: what a peer may send. Larger inputs are refused with kInvalidArgument
// (or, for whole messages, dropped by ZeroMQ's ZMQ_MAXMSGSIZE on the socket).
struct ProtocolLimits {
  size_t max_header_bytes = 1 << 20;
  size_t max_frames = 1 << 12;
  size_t max_frame_bytes = size_t{256} << 20;
  uint32_t max_msgpack_depth = 16;
  uint32_t max_msgpack_elements = 1 << 16;  // per array or map
  uint32_t max_msgpack_string = 1 << 20;
};

// Bulk transfers are cut into chunks of at most this size, with at most kCopyWindow
// outstanding (rpc/chunk_stream.h sizes them to the link).
inline constexpr size_t kChunkBytes = size_t{4} << 20;
inline constexpr int kCopyWindow = 4;

// Tensor bytes in calls (docs/protocol.md, "Tensors in calls"). A host array argument of at
// most kInlineArrayBytes travels inline in its CallFunction (kind 9); a larger one is first
// streamed into a remote array in chunks and passed as that array's handle.
inline constexpr size_t kInlineArrayBytes = kChunkBytes;
// The reference client asks for CPU array results of up to kInlineResultBytes to come with
// their bytes (CallFunction's optional third body item); a server sends at most
// kMaxInlineResultBytes that way, whatever is asked.
inline constexpr uint64_t kInlineResultBytes = uint64_t{64} << 10;
inline constexpr uint64_t kMaxInlineResultBytes = kChunkBytes;
// The most calls one CallSequence carries (docs/protocol.md, "Call sequences").
inline constexpr size_t kMaxSequenceCalls = 256;

}  // namespace ferry::rpc

#endif  // FERRY_RPC_PROTOCOL_H_
