#include "rpc/sealed_channel.h"

namespace ferry::rpc {

bool IsBulkMessageType(MessageType type) {
  return type == MessageType::kCopyToRemote || type == MessageType::kCopyFromRemote ||
         type == MessageType::kUploadChunk;
}

StatusOr<std::unique_ptr<SealedChannel>> SealedChannel::Create(std::unique_ptr<Channel> inner,
                                                               std::string_view key,
                                                               SealDirection send) {
  const SealDirection receive = send == SealDirection::kClientToWorker
                                    ? SealDirection::kWorkerToClient
                                    : SealDirection::kClientToWorker;
  ASSIGN_OR_RETURN(MessageSealer sealer, MessageSealer::Create(key, send));
  ASSIGN_OR_RETURN(MessageOpener opener, MessageOpener::Create(key, receive));
  return std::unique_ptr<SealedChannel>(
      new SealedChannel(std::move(inner), std::move(sealer), std::move(opener)));
}

Status SealedChannel::Send(Frames frames, Deadline deadline) {
  if (!broken_.ok()) return broken_;
  StatusOr<Frames> sealed = sealer_.Seal(frames);
  if (!sealed.ok()) {
    broken_ = sealed.status();
    return broken_;
  }
  Status sent = inner_->Send(std::move(*sealed), deadline);
  // The counters are spent whether or not the message left: the peer would refuse the next.
  if (!sent.ok()) broken_ = sent.WithContext("bulk connection");
  return sent;
}

StatusOr<std::optional<Frames>> SealedChannel::Receive(Deadline deadline) {
  return ReceiveOpened(deadline, std::nullopt);
}

StatusOr<std::optional<Frames>> SealedChannel::ReceiveInto(Deadline deadline,
                                                           MessageOpener::Destination into) {
  return ReceiveOpened(deadline, into);
}

StatusOr<std::optional<Frames>> SealedChannel::ReceiveOpened(
    Deadline deadline, std::optional<MessageOpener::Destination> into) {
  if (!broken_.ok()) return broken_;
  StatusOr<std::optional<Frames>> received = inner_->Receive(deadline);
  if (!received.ok()) {
    broken_ = received.status().WithContext("bulk connection");
    return broken_;
  }
  if (!received->has_value()) return std::optional<Frames>();
  StatusOr<Frames> opened = opener_.OpenInPlace(std::move(**received), into);
  if (!opened.ok()) {
    broken_ = opened.status().WithContext("bulk connection");
    return broken_;
  }
  return std::optional<Frames>(std::move(*opened));
}

}  // namespace ferry::rpc
