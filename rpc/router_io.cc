#include "rpc/router_io.h"

namespace ferry::rpc {

std::optional<RoutedMessage> ReceiveRouted(zmq::socket_t& router) {
  zmq::message_t identity;
  if (!router.recv(identity, zmq::recv_flags::dontwait)) return std::nullopt;
  RoutedMessage message{identity.to_string(), {}, -1, {}, {}};
  // The frames of a multipart message arrive together, so none of these waits.
  bool more = identity.more();
  while (more) {
    zmq::message_t frame;
    if (!router.recv(frame, zmq::recv_flags::dontwait)) break;
    more = frame.more();
    message.frames.push_back(std::move(frame));
  }
  // The connection's properties, as the frames received from it carry them (the identity
  // frame is made by the ROUTER socket itself).
  if (!message.frames.empty()) {
    zmq_msg_t* first = message.frames.front().handle();
    message.connection_fd = zmq_msg_get(first, ZMQ_SRCFD);
    if (const char* user_id = zmq_msg_gets(first, "User-Id"); user_id != nullptr) {
      message.peer_key = user_id;
    }
    if (const char* address = zmq_msg_gets(first, "Peer-Address"); address != nullptr) {
      message.peer_address = address;
    }
  }
  return message;
}

bool SendRouted(zmq::socket_t& router, const std::string& identity, Frames frames,
                std::string* error) {
  try {
    zmq::message_t id(identity.data(), identity.size());
    bool sent = router.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait).has_value();
    for (size_t i = 0; sent && i < frames.size(); ++i) {
      const zmq::send_flags more =
          i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      sent = router.send(frames[i], more | zmq::send_flags::dontwait).has_value();
    }
    if (!sent) *error = "the peer's queue is full";
    return sent;
  } catch (const zmq::error_t& e) {
    *error = e.what();  // EHOSTUNREACH: the peer is gone
    return false;
  }
}

}  // namespace ferry::rpc
