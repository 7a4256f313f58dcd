// Building and parsing protocol messages (protocol.h): the msgpack header frame and the bulk
// frames it refers to.
#ifndef FERRY_RPC_MESSAGE_H_
#define FERRY_RPC_MESSAGE_H_

#include <msgpack.hpp>  // MSGPACK_NO_BOOST is defined by the build

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rpc/frames.h"
#include "rpc/protocol.h"
#include "runtime/data_type.h"
#include "runtime/device.h"
#include "runtime/ndarray.h"

namespace ferry::rpc {

// Writes one message: the header, then the caller packs exactly `body_size` body items with
// packer(), adding bulk frames with AddFrame as it goes.
class MessageWriter {
 public:
  static MessageWriter Request(MessageType type, uint64_t request_id, uint32_t deadline_ms,
                               uint32_t body_size);
  static MessageWriter Reply(uint64_t request_id, const Status& status, uint32_t body_size);

  msgpack::packer<msgpack::sbuffer>& packer() { return *packer_; }
  // Packs `v` as a msgpack float64 always (the packer writes whole-number doubles as
  // integers, which would lose -0.0 and the value's kind).
  void PackFloat64(double v);
  // Appends a bulk frame and returns its frame index (1, 2, ...).
  uint32_t AddFrame(zmq::message_t frame);
  Frames Finish() &&;

  MessageWriter(MessageWriter&&) = default;

 private:
  MessageWriter()
      : buffer_(std::make_unique<msgpack::sbuffer>()),
        packer_(std::make_unique<msgpack::packer<msgpack::sbuffer>>(*buffer_)) {}
  // Heap-held so the writer can move while the packer refers to the buffer.
  std::unique_ptr<msgpack::sbuffer> buffer_;
  std::unique_ptr<msgpack::packer<msgpack::sbuffer>> packer_;
  Frames bulk_;
};

// A parsed message. The body points into `handle` and stays valid while this object lives.
struct ParsedMessage {
  uint32_t version = 0;
  MessageType type = MessageType::kReply;
  uint64_t request_id = 0;
  uint32_t deadline_ms = 0;        // requests
  Status status;                   // replies
  msgpack::object_handle handle;
  const msgpack::object* body = nullptr;  // an array
  Frames frames;                   // frames[0] is the header frame

  size_t body_size() const { return body->via.array.size; }
  const msgpack::object& item(size_t i) const { return body->via.array.ptr[i]; }
  // The bulk frame at `index`. Errors: kInvalidArgument when out of range.
  StatusOr<const zmq::message_t*> Frame(uint64_t index) const;
};

// Parses `frames` within `limits`. Errors: kInvalidArgument ("malformed message: ...") for
// anything that is not a well-formed header of a known type, with the version checked by the
// caller. Never throws.
StatusOr<ParsedMessage> ParseMessage(Frames frames, const ProtocolLimits& limits);

// Typed access to body items; errors are kInvalidArgument naming the item.
StatusOr<int64_t> ReadInt(const msgpack::object& o, std::string_view what);
StatusOr<uint64_t> ReadUint(const msgpack::object& o, std::string_view what);
StatusOr<double> ReadFloat(const msgpack::object& o, std::string_view what);
StatusOr<bool> ReadBool(const msgpack::object& o, std::string_view what);
StatusOr<std::string> ReadString(const msgpack::object& o, std::string_view what);
StatusOr<std::vector<int64_t>> ReadIntArray(const msgpack::object& o, std::string_view what);
// An array of at least `min_size` items.
StatusOr<const msgpack::object*> ReadArray(const msgpack::object& o, std::string_view what,
                                           size_t min_size);
// Checks the body has at least `size` items.
Status CheckBodySize(const ParsedMessage& m, size_t size);

// What every server checks before serving a request: a version it speaks (else
// kUnimplemented "protocol version mismatch ... `server` speaks a..b"), a request rather than
// a reply (kInvalidArgument) and a deadline that has not passed (deadline_ms 0:
// kDeadlineExceeded).
Status CheckRequestHeader(const ParsedMessage& m, std::string_view server);

// [type, id] and [code, bits, lanes].
void PackDevice(msgpack::packer<msgpack::sbuffer>& p, Device device);
StatusOr<Device> ReadDevice(const msgpack::object& o);
// The device a wire [type, id] names: a local DLPack device type this build knows (kDLCPU ..
// kDLCUDAManaged; a wire device never carries the remote mask) and an id in [0, 65536].
// Errors: kInvalidArgument ("malformed message: ..."). Any other type would be outside
// DLDeviceType's range, which C++ does not allow an enum to hold.
StatusOr<Device> WireDevice(int64_t type, int64_t id);
void PackDataType(msgpack::packer<msgpack::sbuffer>& p, DataType dtype);
StatusOr<DataType> ReadDataType(const msgpack::object& o);
void PackShape(msgpack::packer<msgpack::sbuffer>& p, const std::vector<int64_t>& shape);

// A frame over bytes [offset, offset + size) of a CPU array, without copying: the frame holds
// a reference to the array until ZeroMQ is done with it.
zmq::message_t ArrayFrame(const NDArray& array, size_t offset, size_t size);
// A second message over `frame`'s bytes, sharing them (ZeroMQ counts the references, so
// they live while either message does); a frame of up to 33 bytes, which ZeroMQ keeps inside
// the message itself, is copied.
zmq::message_t ShareFrame(const zmq::message_t& frame);
// A frame holding a copy of `bytes`.
inline zmq::message_t CopyFrame(std::string_view bytes) {
  return zmq::message_t(bytes.data(), bytes.size());
}

}  // namespace ferry::rpc

#endif  // FERRY_RPC_MESSAGE_H_
