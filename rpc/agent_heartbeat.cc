#include "rpc/agent_heartbeat.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "rpc/ticket.h"

namespace ferry::rpc {
namespace {

constexpr std::string_view kHeartbeatPurpose = "ferry.heartbeat";
constexpr std::string_view kGoodbyePurpose = "ferry.goodbye";
constexpr size_t kHeartbeatItems = 10;  // purpose, 7 fields, sequence, wall_ms
constexpr size_t kGoodbyeItems = 5;     // purpose, agent_id, public_key, sequence, wall_ms

using Packer = msgpack::packer<msgpack::sbuffer>;

// Packs `signed_bytes` and their HMAC as the two body items of a one-way message.
Frames Seal(MessageType type, const msgpack::sbuffer& signed_bytes, std::string_view secret,
            uint32_t deadline_ms) {
  if (secret.empty()) throw std::invalid_argument("signing an agent message needs a secret");
  const std::string_view bytes(signed_bytes.data(), signed_bytes.size());
  MessageWriter w = MessageWriter::Request(type, 0, deadline_ms, 2);
  w.packer().pack_bin(static_cast<uint32_t>(bytes.size()));
  w.packer().pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
  w.packer().pack(HmacSha256Hex(bytes, secret));
  return std::move(w).Finish();
}

// The signed fields of `m` after checking their signature: the unpacked array, which must
// have `items` items and start with `purpose`.
StatusOr<msgpack::object_handle> Unseal(const ParsedMessage& m, MessageType type,
                                        std::string_view purpose, size_t items,
                                        std::string_view secret) {
  const std::string what(MessageTypeName(type));
  if (m.type != type) return InvalidArgumentError("not an " + what);
  if (m.body_size() != 2 || m.item(0).type != msgpack::type::BIN ||
      m.item(1).type != msgpack::type::STR) {
    return PermissionDeniedError("forged " + what + " (not signed)");
  }
  const std::string_view bytes(m.item(0).via.bin.ptr, m.item(0).via.bin.size);
  const std::string_view mac(m.item(1).via.str.ptr, m.item(1).via.str.size);
  if (secret.empty() || !ConstantTimeEquals(HmacSha256Hex(bytes, secret), mac)) {
    return PermissionDeniedError("forged " + what + " (bad signature)");
  }
  const ProtocolLimits limits;
  msgpack::object_handle handle;
  try {
    const msgpack::unpack_limit unpack_limit(
        limits.max_msgpack_elements, limits.max_msgpack_elements, limits.max_msgpack_string,
        limits.max_msgpack_string, /*ext=*/0, limits.max_msgpack_depth);
    std::size_t offset = 0;
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, unpack_limit);
    if (offset != bytes.size()) return InvalidArgumentError(what + ": trailing signed bytes");
  } catch (const std::exception& e) {
    return InvalidArgumentError(what + ": signed part is not valid msgpack (" + e.what() + ")");
  }
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size != items) {
    return InvalidArgumentError(what + ": signed part is not an array of " +
                                std::to_string(items) + " items");
  }
  ASSIGN_OR_RETURN(std::string tag, ReadString(root.via.array.ptr[0], "purpose"));
  if (tag != purpose) return InvalidArgumentError(what + ": signed for '" + tag + "'");
  return handle;
}

StatusOr<SignedStamp> ReadStamp(const msgpack::object* items, size_t first) {
  SignedStamp stamp;
  ASSIGN_OR_RETURN(stamp.sequence, ReadUint(items[first], "sequence"));
  ASSIGN_OR_RETURN(stamp.wall_ms, ReadInt(items[first + 1], "wall clock"));
  return stamp;
}

StatusOr<std::string> ReadPublicKey(const msgpack::object& o) {
  ASSIGN_OR_RETURN(std::string key, ReadString(o, "public key"));
  if (!key.empty() && key.size() != 40) {
    return InvalidArgumentError("an agent's public key is 40 Z85 characters or empty");
  }
  return key;
}

}  // namespace

uint64_t NextAgentSequence() {
  static std::atomic<uint64_t> last{0};
  const uint64_t now_us = static_cast<uint64_t>(WallClockMs()) * 1000;
  uint64_t previous = last.load();
  uint64_t next = 0;
  do {
    next = std::max(previous + 1, now_us);
  } while (!last.compare_exchange_weak(previous, next));
  return next;
}

Frames EncodeAgentHeartbeat(const AgentHeartbeat& h, std::string_view secret, SignedStamp stamp,
                            uint32_t deadline_ms) {
  msgpack::sbuffer buffer;
  Packer p(buffer);
  p.pack_array(kHeartbeatItems);
  p.pack(std::string(kHeartbeatPurpose));
  p.pack(h.agent_id);
  p.pack(h.key);
  p.pack(h.address);
  p.pack_array(static_cast<uint32_t>(h.devices.size()));
  for (const AgentDevice& d : h.devices) {
    p.pack_array(4);
    p.pack(d.type);
    p.pack(d.count);
    p.pack(d.memory);
    p.pack(d.name);
  }
  p.pack_array(static_cast<uint32_t>(h.tags.size()));
  for (const auto& [name, value] : h.tags) {
    p.pack_array(2);
    p.pack(name);
    p.pack(value);
  }
  p.pack(h.active_leases);
  p.pack(h.public_key);
  p.pack(stamp.sequence);
  p.pack(stamp.wall_ms);
  return Seal(MessageType::kAgentHeartbeat, buffer, secret, deadline_ms);
}

Frames EncodeAgentGoodbye(const AgentGoodbye& g, std::string_view secret, SignedStamp stamp,
                          uint32_t deadline_ms) {
  msgpack::sbuffer buffer;
  Packer p(buffer);
  p.pack_array(kGoodbyeItems);
  p.pack(std::string(kGoodbyePurpose));
  p.pack(g.agent_id);
  p.pack(g.public_key);
  p.pack(stamp.sequence);
  p.pack(stamp.wall_ms);
  return Seal(MessageType::kAgentGoodbye, buffer, secret, deadline_ms);
}

StatusOr<Verified<AgentHeartbeat>> VerifyAgentHeartbeat(const ParsedMessage& m,
                                                        std::string_view secret) {
  ASSIGN_OR_RETURN(msgpack::object_handle handle,
                   Unseal(m, MessageType::kAgentHeartbeat, kHeartbeatPurpose, kHeartbeatItems,
                          secret));
  const msgpack::object* f = handle.get().via.array.ptr;
  Verified<AgentHeartbeat> out;
  AgentHeartbeat& h = out.message;
  ASSIGN_OR_RETURN(h.agent_id, ReadString(f[1], "agent id"));
  ASSIGN_OR_RETURN(h.key, ReadString(f[2], "key"));
  ASSIGN_OR_RETURN(h.address, ReadString(f[3], "address"));
  ASSIGN_OR_RETURN(const msgpack::object* devices, ReadArray(f[4], "devices", 0));
  for (uint32_t i = 0; i < devices->via.array.size; ++i) {
    ASSIGN_OR_RETURN(const msgpack::object* d, ReadArray(devices->via.array.ptr[i], "device", 4));
    AgentDevice device;
    ASSIGN_OR_RETURN(device.type, ReadString(d->via.array.ptr[0], "device type"));
    ASSIGN_OR_RETURN(int64_t count, ReadInt(d->via.array.ptr[1], "device count"));
    device.count = static_cast<int>(std::clamp<int64_t>(count, 0, INT32_MAX));
    ASSIGN_OR_RETURN(device.memory, ReadUint(d->via.array.ptr[2], "device memory"));
    ASSIGN_OR_RETURN(device.name, ReadString(d->via.array.ptr[3], "device name"));
    h.devices.push_back(std::move(device));
  }
  ASSIGN_OR_RETURN(const msgpack::object* tags, ReadArray(f[5], "tags", 0));
  for (uint32_t i = 0; i < tags->via.array.size; ++i) {
    ASSIGN_OR_RETURN(const msgpack::object* pair, ReadArray(tags->via.array.ptr[i], "tag", 2));
    ASSIGN_OR_RETURN(std::string name, ReadString(pair->via.array.ptr[0], "tag name"));
    ASSIGN_OR_RETURN(h.tags[name], ReadString(pair->via.array.ptr[1], "tag value"));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> leases, ReadIntArray(f[6], "active leases"));
  h.active_leases.assign(leases.begin(), leases.end());
  ASSIGN_OR_RETURN(h.public_key, ReadPublicKey(f[7]));
  ASSIGN_OR_RETURN(out.stamp, ReadStamp(f, 8));
  if (h.agent_id.empty() || h.key.empty() || h.address.empty()) {
    return InvalidArgumentError("a heartbeat needs an agent id, a key and an address");
  }
  return out;
}

StatusOr<Verified<AgentGoodbye>> VerifyAgentGoodbye(const ParsedMessage& m,
                                                    std::string_view secret) {
  ASSIGN_OR_RETURN(msgpack::object_handle handle,
                   Unseal(m, MessageType::kAgentGoodbye, kGoodbyePurpose, kGoodbyeItems, secret));
  const msgpack::object* f = handle.get().via.array.ptr;
  Verified<AgentGoodbye> out;
  ASSIGN_OR_RETURN(out.message.agent_id, ReadString(f[1], "agent id"));
  ASSIGN_OR_RETURN(out.message.public_key, ReadPublicKey(f[2]));
  ASSIGN_OR_RETURN(out.stamp, ReadStamp(f, 3));
  return out;
}

}  // namespace ferry::rpc
