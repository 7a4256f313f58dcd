#include "rpc/sealed_router.h"

#include "rpc/router_io.h"

namespace ferry::rpc {

StatusOr<std::unique_ptr<SealedRouter>> SealedRouter::Bind(zmq::context_t& context,
                                                           const std::string& host) {
  ASSIGN_OR_RETURN(std::string key, GenerateBulkKey());
  ASSIGN_OR_RETURN(MessageSealer sealer,
                   MessageSealer::Create(key, SealDirection::kWorkerToClient));
  ASSIGN_OR_RETURN(MessageOpener opener,
                   MessageOpener::Create(key, SealDirection::kClientToWorker));
  try {
    zmq::socket_t socket(context, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, kMaxSealedFrameBytes);
    socket.set(zmq::sockopt::heartbeat_ivl, 1000);
    socket.set(zmq::sockopt::heartbeat_timeout, 5000);
    socket.bind("tcp://" + host + ":*");
    std::unique_ptr<SealedRouter> router(
        new SealedRouter(std::move(socket), std::move(key), std::move(sealer), std::move(opener)));
    router->endpoint_ = router->socket_.get(zmq::sockopt::last_endpoint);
    const size_t colon = router->endpoint_.rfind(':');
    router->port_ = static_cast<uint16_t>(std::stoi(router->endpoint_.substr(colon + 1)));
    return router;
  } catch (const zmq::error_t& e) {
    return UnavailableError(std::string("cannot bind the bulk socket: ") + e.what());
  }
}

std::optional<Frames> SealedRouter::Receive(std::string* dropped) {
  std::optional<RoutedMessage> message = ReceiveRouted(socket_);
  if (!message) return std::nullopt;
  if (bound_ && message->identity != identity_) {
    *dropped = "a message from a connection other than the session's bulk connection";
    return std::nullopt;
  }
  StatusOr<Frames> opened = opener_.OpenInPlace(std::move(message->frames));
  if (!opened.ok()) {
    *dropped =
        opened.status().message() + (bound_ ? "" : " (from a connection that has not been bound)");
    return std::nullopt;
  }
  if (!bound_) {
    bound_ = true;
    identity_ = std::move(message->identity);
  }
  return std::move(*opened);
}

bool SealedRouter::Reply(const Frames& frames, std::string* error) {
  if (!bound_) {
    *error = "no bulk connection is bound";
    return false;
  }
  StatusOr<Frames> sealed = sealer_.Seal(frames);
  if (!sealed.ok()) {
    *error = sealed.status().message();
    return false;
  }
  return SendRouted(socket_, identity_, std::move(*sealed), error);
}

}  // namespace ferry::rpc
