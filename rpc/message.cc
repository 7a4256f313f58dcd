#include "rpc/message.h"

#include <cstring>

namespace ferry::rpc {
namespace {

Status Malformed(std::string_view why) {
  return InvalidArgumentError("malformed message: " + std::string(why));
}

bool IsInt(const msgpack::object& o) {
  return o.type == msgpack::type::POSITIVE_INTEGER || o.type == msgpack::type::NEGATIVE_INTEGER;
}

bool KnownType(uint64_t t) {
  return (t >= static_cast<uint64_t>(MessageType::kOpenSession) &&
          t <= static_cast<uint64_t>(MessageType::kCallSequence)) ||
         (t >= static_cast<uint64_t>(MessageType::kAgentHeartbeat) &&
          t <= static_cast<uint64_t>(MessageType::kTrackerStatus)) ||
         t == static_cast<uint64_t>(MessageType::kReply);
}

}  // namespace

std::string_view MessageTypeName(MessageType type) {
  static constexpr std::string_view kNames[] = {"?",
                                                "OpenSession",
                                                "SessionStatus",
                                                "Hello",
                                                "CloseSession",
                                                "GetGlobalFunction",
                                                "GetModuleFunction",
                                                "CallFunction",
                                                "ReleaseHandles",
                                                "DeviceAttributes",
                                                "AllocArray",
                                                "CopyToRemote",
                                                "CopyFromRemote",
                                                "CopyRemoteToRemote",
                                                "StreamSync",
                                                "UploadBegin",
                                                "UploadChunk",
                                                "UploadEnd",
                                                "Download",
                                                "ListFiles",
                                                "RemoveFile",
                                                "LoadModule",
                                                "TimeEvaluator",
                                                "CallSequence"};
  static constexpr std::string_view kTrackerNames[] = {"AgentHeartbeat", "AgentGoodbye",
                                                       "RequestDevice",  "CancelRequest",
                                                       "ReleaseLease",   "TrackerStatus"};
  const auto index = static_cast<size_t>(type);
  if (type == MessageType::kReply) return "Reply";
  if (index >= 30 && index < 30 + std::size(kTrackerNames)) return kTrackerNames[index - 30];
  return index < std::size(kNames) ? kNames[index] : "?";
}

MessageWriter MessageWriter::Request(MessageType type, uint64_t request_id, uint32_t deadline_ms,
                                     uint32_t body_size) {
  MessageWriter w;
  w.packer_->pack_array(5);
  w.packer_->pack(kProtocolVersion);
  w.packer_->pack(static_cast<uint8_t>(type));
  w.packer_->pack(request_id);
  w.packer_->pack(deadline_ms);
  w.packer_->pack_array(body_size);
  return w;
}

MessageWriter MessageWriter::Reply(uint64_t request_id, const Status& status, uint32_t body_size) {
  MessageWriter w;
  w.packer_->pack_array(6);
  w.packer_->pack(kProtocolVersion);
  w.packer_->pack(static_cast<uint8_t>(MessageType::kReply));
  w.packer_->pack(request_id);
  w.packer_->pack(static_cast<uint32_t>(status.code()));
  w.packer_->pack(status.message());
  w.packer_->pack_array(status.ok() ? body_size : 0);
  return w;
}

void MessageWriter::PackFloat64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  char bytes[9];
  bytes[0] = static_cast<char>(0xcb);
  for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xff);
  buffer_->write(bytes, sizeof(bytes));
}

uint32_t MessageWriter::AddFrame(zmq::message_t frame) {
  bulk_.push_back(std::move(frame));
  return static_cast<uint32_t>(bulk_.size());
}

Frames MessageWriter::Finish() && {
  Frames frames;
  frames.reserve(bulk_.size() + 1);
  frames.emplace_back(buffer_->data(), buffer_->size());
  for (auto& f : bulk_) frames.push_back(std::move(f));
  return frames;
}

StatusOr<const zmq::message_t*> ParsedMessage::Frame(uint64_t index) const {
  if (index == 0 || index >= frames.size()) {
    return Malformed("refers to bulk frame " + std::to_string(index) + " of " +
                     std::to_string(frames.size() - 1));
  }
  return &frames[index];
}

StatusOr<ParsedMessage> ParseMessage(Frames frames, const ProtocolLimits& limits) {
  if (frames.empty()) return Malformed("no frames");
  if (frames.size() > limits.max_frames) return Malformed("too many frames");
  if (frames[0].size() > limits.max_header_bytes) return Malformed("header frame too large");
  for (const auto& f : frames) {
    if (f.size() > limits.max_frame_bytes) return Malformed("frame too large");
  }
  ParsedMessage m;
  try {
    const msgpack::unpack_limit unpack_limit(
        limits.max_msgpack_elements, limits.max_msgpack_elements, limits.max_msgpack_string,
        limits.max_msgpack_string, /*ext=*/0, limits.max_msgpack_depth);
    std::size_t offset = 0;
    m.handle = msgpack::unpack(static_cast<const char*>(frames[0].data()), frames[0].size(), offset,
                               nullptr, nullptr, unpack_limit);
    if (offset != frames[0].size()) return Malformed("trailing bytes after the header");
  } catch (const std::exception& e) {
    return Malformed(std::string("header is not valid msgpack (") + e.what() + ")");
  }
  const msgpack::object& root = m.handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size < 5) {
    return Malformed("header is not an array of at least 5 items");
  }
  const msgpack::object* h = root.via.array.ptr;
  for (int i = 0; i < 3; ++i) {
    if (h[i].type != msgpack::type::POSITIVE_INTEGER) return Malformed("bad header field");
  }
  if (h[0].via.u64 > UINT32_MAX || !KnownType(h[1].via.u64)) {
    return Malformed("unknown message type " + std::to_string(h[1].via.u64));
  }
  m.version = static_cast<uint32_t>(h[0].via.u64);
  m.type = static_cast<MessageType>(h[1].via.u64);
  m.request_id = h[2].via.u64;
  if (m.type == MessageType::kReply) {
    if (root.via.array.size != 6 || h[3].type != msgpack::type::POSITIVE_INTEGER ||
        h[4].type != msgpack::type::STR || h[5].type != msgpack::type::ARRAY) {
      return Malformed("bad reply header");
    }
    const uint64_t code = h[3].via.u64;
    if (code > static_cast<uint64_t>(StatusCode::kInternal)) {  // the last code
      return Malformed("unknown status code " + std::to_string(code));
    }
    m.status =
        Status(static_cast<StatusCode>(code), std::string(h[4].via.str.ptr, h[4].via.str.size));
    if (!m.status.ok() && m.status.message().empty()) {
      m.status = Status(m.status.code(), "(the peer gave no message)");
    }
    m.body = &h[5];
  } else {
    if (root.via.array.size != 5 || h[3].type != msgpack::type::POSITIVE_INTEGER ||
        h[3].via.u64 > UINT32_MAX || h[4].type != msgpack::type::ARRAY) {
      return Malformed("bad request header");
    }
    m.deadline_ms = static_cast<uint32_t>(h[3].via.u64);
    m.body = &h[4];
  }
  m.frames = std::move(frames);
  return m;
}

StatusOr<int64_t> ReadInt(const msgpack::object& o, std::string_view what) {
  if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
  if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 <= INT64_MAX) {
    return static_cast<int64_t>(o.via.u64);
  }
  return Malformed(std::string(what) + " must be an integer");
}

StatusOr<uint64_t> ReadUint(const msgpack::object& o, std::string_view what) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) return o.via.u64;
  return Malformed(std::string(what) + " must be a non-negative integer");
}

StatusOr<double> ReadFloat(const msgpack::object& o, std::string_view what) {
  if (o.type == msgpack::type::FLOAT64 || o.type == msgpack::type::FLOAT32) return o.via.f64;
  // msgpack-c packs integral doubles as integers, up to 2^64 - 1: never through ReadInt, which
  // refuses (and .value() would throw on) those above INT64_MAX.
  if (IsInt(o)) {
    return o.type == msgpack::type::POSITIVE_INTEGER ? static_cast<double>(o.via.u64)
                                                     : static_cast<double>(o.via.i64);
  }
  return Malformed(std::string(what) + " must be a number");
}

StatusOr<bool> ReadBool(const msgpack::object& o, std::string_view what) {
  if (o.type == msgpack::type::BOOLEAN) return o.via.boolean;
  return Malformed(std::string(what) + " must be a boolean");
}

StatusOr<std::string> ReadString(const msgpack::object& o, std::string_view what) {
  if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
  return Malformed(std::string(what) + " must be a string");
}

StatusOr<const msgpack::object*> ReadArray(const msgpack::object& o, std::string_view what,
                                           size_t min_size) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size < min_size) {
    return Malformed(std::string(what) + " must be an array of at least " +
                     std::to_string(min_size) + " items");
  }
  return &o;
}

StatusOr<std::vector<int64_t>> ReadIntArray(const msgpack::object& o, std::string_view what) {
  ASSIGN_OR_RETURN(const msgpack::object* array, ReadArray(o, what, 0));
  std::vector<int64_t> out;
  out.reserve(array->via.array.size);
  for (uint32_t i = 0; i < array->via.array.size; ++i) {
    ASSIGN_OR_RETURN(int64_t v, ReadInt(array->via.array.ptr[i], what));
    out.push_back(v);
  }
  return out;
}

Status CheckBodySize(const ParsedMessage& m, size_t size) {
  if (m.body_size() < size) {
    return Malformed(std::string(MessageTypeName(m.type)) + " needs " + std::to_string(size) +
                     " body items, got " + std::to_string(m.body_size()));
  }
  return Status::Ok();
}

Status CheckRequestHeader(const ParsedMessage& m, std::string_view server) {
  if (m.version < kMinProtocolVersion || m.version > kMaxProtocolVersion) {
    return UnimplementedError("protocol version mismatch: the message has version " +
                              std::to_string(m.version) + ", " + std::string(server) + " speaks " +
                              std::to_string(kMinProtocolVersion) + ".." +
                              std::to_string(kMaxProtocolVersion));
  }
  if (m.type == MessageType::kReply) return InvalidArgumentError("unexpected reply message");
  if (m.deadline_ms == 0) {
    return DeadlineExceededError(std::string(MessageTypeName(m.type)) +
                                 ": the deadline passed before the request was served");
  }
  return Status::Ok();
}

void PackDevice(msgpack::packer<msgpack::sbuffer>& p, Device device) {
  p.pack_array(2);
  p.pack(static_cast<int32_t>(device.type));
  p.pack(device.id);
}

StatusOr<Device> ReadDevice(const msgpack::object& o) {
  ASSIGN_OR_RETURN(const msgpack::object* a, ReadArray(o, "device", 2));
  ASSIGN_OR_RETURN(int64_t type, ReadInt(a->via.array.ptr[0], "device type"));
  ASSIGN_OR_RETURN(int64_t id, ReadInt(a->via.array.ptr[1], "device id"));
  return WireDevice(type, id);
}

StatusOr<Device> WireDevice(int64_t type, int64_t id) {
  if (type < kDLCPU || type > kDLCUDAManaged) {
    return Malformed("unknown device type " + std::to_string(type));
  }
  if (id < 0 || id > 1 << 16) return Malformed("device out of range");
  return Device{static_cast<DLDeviceType>(type), static_cast<int>(id)};
}

void PackDataType(msgpack::packer<msgpack::sbuffer>& p, DataType dtype) {
  p.pack_array(3);
  p.pack(dtype.code);
  p.pack(dtype.bits);
  p.pack(dtype.lanes);
}

StatusOr<DataType> ReadDataType(const msgpack::object& o) {
  ASSIGN_OR_RETURN(const msgpack::object* a, ReadArray(o, "dtype", 3));
  ASSIGN_OR_RETURN(uint64_t code, ReadUint(a->via.array.ptr[0], "dtype code"));
  ASSIGN_OR_RETURN(uint64_t bits, ReadUint(a->via.array.ptr[1], "dtype bits"));
  ASSIGN_OR_RETURN(uint64_t lanes, ReadUint(a->via.array.ptr[2], "dtype lanes"));
  if (code > 255 || bits == 0 || bits > 255 || lanes == 0 || lanes > 65535) {
    return Malformed("dtype out of range");
  }
  return DataType{static_cast<uint8_t>(code), static_cast<uint8_t>(bits),
                  static_cast<uint16_t>(lanes)};
}

void PackShape(msgpack::packer<msgpack::sbuffer>& p, const std::vector<int64_t>& shape) {
  p.pack_array(static_cast<uint32_t>(shape.size()));
  for (int64_t d : shape) p.pack(d);
}

zmq::message_t ArrayFrame(const NDArray& array, size_t offset, size_t size) {
  auto* keepalive = new NDArray(array);
  char* data = array.data_as<char>() + offset;
  return zmq::message_t(
      data, size, [](void*, void* hint) { delete static_cast<NDArray*>(hint); }, keepalive);
}

zmq::message_t ShareFrame(const zmq::message_t& frame) {
  zmq::message_t shared;
  // zmq_msg_copy only adds a reference; the frame itself is unchanged for its owner.
  shared.copy(const_cast<zmq::message_t&>(frame));
  return shared;
}

}  // namespace ferry::rpc
