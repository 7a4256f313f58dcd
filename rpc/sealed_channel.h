// SealedChannel: a Channel decorator for a CURVE session's bulk connection (docs/protocol.md,
// "Bulk path"). Every message it sends is sealed frame by frame with AES-256-GCM under the
// session's bulk key (frame_sealer.h), and every message it receives must open under it with
// the next counter of the other direction.
//
// A failure breaks the channel for good, since the two ends' counters can no longer agree: a
// received message that does not open fails Receive with kPermissionDenied, a message the
// inner channel did not take fails Send with its error, and every later Send and Receive
// returns the same error (a session then reports the bulk transfer failed; see
// SessionEndpoint). Not thread-safe, like the channels it wraps.
#ifndef FERRY_RPC_SEALED_CHANNEL_H_
#define FERRY_RPC_SEALED_CHANNEL_H_

#include <memory>
#include <optional>
#include <string_view>

#include "rpc/channel.h"
#include "rpc/frame_sealer.h"

namespace ferry::rpc {

// The requests that travel on a session's bulk connection when it has one (with their
// replies): those that carry bulk bytes. Everything else stays on the worker connection.
bool IsBulkMessageType(MessageType type);

class SealedChannel final : public Channel {
 public:
  // Wraps `inner`; sends in direction `send`, receives the other direction. Errors:
  // kInvalidArgument when `key` is not kBulkKeyBytes long; kInternal for OpenSSL.
  static StatusOr<std::unique_ptr<SealedChannel>> Create(std::unique_ptr<Channel> inner,
                                                         std::string_view key, SealDirection send);

  Status Send(Frames frames, Deadline deadline) override;
  StatusOr<std::optional<Frames>> Receive(Deadline deadline) override;

  // Receive, opening frame `into.index` of the message straight into `into.bytes` when it is
  // exactly that long (MessageOpener::OpenInPlace): the returned frame then refers to that
  // memory, and nothing is copied. Whatever message arrives is opened this way, so `into`
  // is written only with bytes that authenticated under the session's key, and may hold any
  // bytes when Receive fails.
  StatusOr<std::optional<Frames>> ReceiveInto(Deadline deadline,
                                              MessageOpener::Destination into);

 private:
  StatusOr<std::optional<Frames>> ReceiveOpened(Deadline deadline,
                                                std::optional<MessageOpener::Destination> into);
  SealedChannel(std::unique_ptr<Channel> inner, MessageSealer sealer, MessageOpener opener)
      : inner_(std::move(inner)), sealer_(std::move(sealer)), opener_(std::move(opener)) {}

  std::unique_ptr<Channel> inner_;
  MessageSealer sealer_;
  MessageOpener opener_;
  Status broken_;  // OK until the first failure
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SEALED_CHANNEL_H_
