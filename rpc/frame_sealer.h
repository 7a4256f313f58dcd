// Sealing and opening the frames of messages on a session's bulk connection with AES-256-GCM
// (docs/protocol.md, "Bulk path"): every frame of a message is sealed on its own, as
//
//   sealed frame = nonce (12 bytes) || ciphertext (as long as the frame) || tag (16 bytes)
//   nonce        = direction (uint32, big-endian) || counter (uint64, big-endian)
//   AAD          = nonce || frame index in the message (uint32 BE) || frame count (uint32 BE)
//
// The direction is 1 from client to worker and 2 from worker to client; the counter starts at
// 0 under a key and grows by one per frame sent in that direction, so no nonce repeats under a
// key. The AAD binds each frame to its place, so frames cannot be reordered, dropped, added,
// spliced between messages or replayed without the receiver noticing.
//
// A MessageSealer seals one direction's messages; a MessageOpener opens them and accepts only
// the next counter. Both are move-only and not thread-safe (one per direction per connection).
#ifndef FERRY_RPC_FRAME_SEALER_H_
#define FERRY_RPC_FRAME_SEALER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "rpc/frames.h"
#include "runtime/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace ferry::rpc {

inline constexpr size_t kBulkKeyBytes = 32;
inline constexpr size_t kSealNonceBytes = 12;
inline constexpr size_t kSealTagBytes = 16;
// What sealing adds to every frame.
inline constexpr size_t kSealOverheadBytes = kSealNonceBytes + kSealTagBytes;

enum class SealDirection : uint32_t { kClientToWorker = 1, kWorkerToClient = 2 };

// A fresh random key of kBulkKeyBytes (OpenSSL's RAND_bytes). Errors: kInternal when the
// random generator fails.
StatusOr<std::string> GenerateBulkKey();

namespace internal {
struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const;
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;
}  // namespace internal

class MessageSealer {
 public:
  // Errors: kInvalidArgument when `key` is not kBulkKeyBytes long; kInternal for OpenSSL.
  static StatusOr<MessageSealer> Create(std::string_view key, SealDirection direction);

  // Seals every frame of `frames` (at least one) with the next counters. Errors:
  // kInvalidArgument for an empty message; kResourceExhausted when the counter would pass
  // 2^64 - 1 (the key must then be replaced); kInternal for OpenSSL. On error no counter is
  // used.
  StatusOr<Frames> Seal(const Frames& frames);

  // The counter of the next frame sealed.
  uint64_t next_counter() const { return counter_; }

 private:
  MessageSealer(internal::CipherContext context, SealDirection direction)
      : context_(std::move(context)), direction_(direction) {}
  internal::CipherContext context_;
  SealDirection direction_;
  uint64_t counter_ = 0;
};

class MessageOpener {
 public:
  // Errors: kInvalidArgument when `key` is not kBulkKeyBytes long; kInternal for OpenSSL.
  static StatusOr<MessageOpener> Create(std::string_view key, SealDirection direction);

  // Opens a sealed message whose first frame must carry the next expected counter, and whose
  // frames must carry consecutive counters. On success the expected counter advances by the
  // number of frames. Errors: kPermissionDenied ("bulk frame I of N does not open: ...")
  // when any frame is too short, carries another direction or counter, or fails
  // authentication; the expected counter is then unchanged and nothing is returned.
  StatusOr<Frames> Open(const Frames& frames);

  // Open without a copy: the same checks and errors as Open, but `frames` is consumed and
  // decrypted where it lies, and each returned frame of more than a few KiB refers to the
  // plaintext inside its sealed buffer (which it keeps alive) instead of a fresh allocation.
  // The buffers must be the caller's own (as ZeroMQ hands received messages over). What a
  // refused message's buffers hold afterwards is unspecified; they are freed.
  //
  // With `into`, when frame `into->index` exists and opens to exactly `into->bytes.size()`
  // bytes, it is decrypted straight into `into->bytes` (no copy out of the sealed buffer),
  // and the returned frame refers to that memory without owning it. When the message is
  // refused, `into->bytes` may hold any bytes.
  struct Destination {
    size_t index = 0;
    std::span<char> bytes;
  };
  StatusOr<Frames> OpenInPlace(Frames frames, std::optional<Destination> into = std::nullopt);

  // The counter the next message must start with.
  uint64_t next_counter() const { return counter_; }

 private:
  MessageOpener(internal::CipherContext context, SealDirection direction)
      : context_(std::move(context)), direction_(direction) {}
  // Checks and decrypts frame `index` of `count` (`sealed`) into `out` (size - overhead
  // bytes; may be sealed + kSealNonceBytes). Returns the reason on failure, else "".
  std::string OpenFrame(const zmq::message_t& sealed, size_t index, size_t count,
                        unsigned char* out);
  // The common checks on a whole message; "" when it may be opened frame by frame.
  std::string CheckCount(size_t count) const;
  internal::CipherContext context_;
  SealDirection direction_;
  uint64_t counter_ = 0;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_FRAME_SEALER_H_
