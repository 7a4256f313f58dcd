// Helpers for tests that talk to an agent or a tracker as a raw peer (an attacker, a broken
// client): request headers written by hand with any version and deadline, sending and
// receiving multipart messages on a ZeroMQ socket with a bounded wait, and a DEALER socket
// (plaintext or CURVE) of its own context that sends whatever it is given.
#ifndef FERRY_TESTS_RAW_PEER_TEST_UTIL_H_
#define FERRY_TESTS_RAW_PEER_TEST_UTIL_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "rpc/message.h"
#include "rpc/zap_handler.h"
#include "runtime/status.h"

namespace ferry::testing {

using RawPacker = msgpack::packer<msgpack::sbuffer>;

// A request header frame written by hand, [version, type, request_id, deadline_ms, body],
// whose body `pack_body` packs whole (its array header included), so it may be anything.
inline rpc::Frames RawRequest(uint64_t version, rpc::MessageType type, uint64_t request_id,
                              uint64_t deadline_ms,
                              const std::function<void(RawPacker&)>& pack_body) {
  msgpack::sbuffer buffer;
  RawPacker p(buffer);
  p.pack_array(5);
  p.pack(version);
  p.pack(static_cast<uint64_t>(type));
  p.pack(request_id);
  p.pack(deadline_ms);
  if (pack_body) pack_body(p);
  rpc::Frames frames;
  frames.emplace_back(buffer.data(), buffer.size());
  return frames;
}

// The same with a body array of `body_size` items packed by `pack`.
inline rpc::Frames RawRequest(uint64_t version, rpc::MessageType type, uint64_t request_id,
                              uint64_t deadline_ms, uint32_t body_size,
                              const std::function<void(RawPacker&)>& pack) {
  return RawRequest(version, type, request_id, deadline_ms, [&](RawPacker& p) {
    p.pack_array(body_size);
    if (pack) pack(p);
  });
}

// A well-formed request of the current version with a 10 s deadline.
inline rpc::Frames Request(rpc::MessageType type, uint64_t request_id, uint32_t body_size,
                           const std::function<void(rpc::MessageWriter&)>& pack) {
  rpc::MessageWriter w = rpc::MessageWriter::Request(type, request_id, 10000, body_size);
  if (pack) pack(w);
  return std::move(w).Finish();
}

// One frame per string of `parts` (to send arbitrary bytes).
inline rpc::Frames FramesOf(const std::vector<std::string>& parts) {
  rpc::Frames frames;
  for (const std::string& part : parts) frames.emplace_back(part.data(), part.size());
  return frames;
}

// Sends `frames` as one multipart message.
inline void SendFrames(zmq::socket_t& socket, rpc::Frames frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    socket.send(frames[i],
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

// The next message on `socket`, or nullopt when none came within `timeout`.
inline std::optional<rpc::Frames> ReceiveFrames(zmq::socket_t& socket,
                                                std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
  rpc::Frames frames;
  while (true) {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::none)) return std::nullopt;
    const bool more = frame.more();
    frames.push_back(std::move(frame));
    if (!more) return frames;
  }
}

// A DEALER socket of its own context, plaintext or CURVE, that sends whatever it is given.
class RawDealer {
 public:
  explicit RawDealer(const std::string& endpoint,
                     const std::optional<rpc::CurveKeyPair>& keys = std::nullopt,
                     const std::string& server_key = "")
      : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    if (keys) rpc::ApplyClientCurve(socket_, *keys, server_key);
    socket_.connect(endpoint);
  }

  void Send(rpc::Frames frames) { SendFrames(socket_, std::move(frames)); }

  // The next message, or nullopt after `timeout`.
  std::optional<rpc::Frames> Receive(std::chrono::milliseconds timeout) {
    return ReceiveFrames(socket_, timeout);
  }

  // Sends `request` and parses the reply. Errors: kDeadlineExceeded ("no reply") after
  // `timeout`, the parser's errors. The reply's own status is in the result, not the error.
  StatusOr<rpc::ParsedMessage> Call(rpc::Frames request,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    Send(std::move(request));
    std::optional<rpc::Frames> reply = Receive(timeout);
    if (!reply) return DeadlineExceededError("no reply");
    return rpc::ParseMessage(std::move(*reply), rpc::ProtocolLimits{});
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
};

}  // namespace ferry::testing

#endif  // FERRY_TESTS_RAW_PEER_TEST_UTIL_H_
