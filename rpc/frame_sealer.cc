#include "rpc/frame_sealer.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>

namespace ferry::rpc {
namespace {

constexpr size_t kAadBytes = kSealNonceBytes + 8;
// EVP takes int lengths; frames are fed in pieces of at most this.
constexpr size_t kMaxUpdateBytes = size_t{1} << 30;
// OpenInPlace copies frames up to this size (message headers) rather than keep their sealed
// buffers alive behind a second allocation.
constexpr size_t kCopyOpenedBytes = 4096;

Status Refused(size_t index, size_t count, const std::string& why) {
  return PermissionDeniedError("bulk frame " + std::to_string(index) + " of " +
                               std::to_string(count) + " does not open: " + why);
}

void PutU32(unsigned char* out, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = static_cast<unsigned char>(v & 0xff);
}

void PutU64(unsigned char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<unsigned char>(v & 0xff);
}

void MakeNonce(SealDirection direction, uint64_t counter, unsigned char* nonce) {
  PutU32(nonce, static_cast<uint32_t>(direction));
  PutU64(nonce + 4, counter);
}

void MakeAad(const unsigned char* nonce, uint32_t index, uint32_t count, unsigned char* aad) {
  std::memcpy(aad, nonce, kSealNonceBytes);
  PutU32(aad + kSealNonceBytes, index);
  PutU32(aad + kSealNonceBytes + 4, count);
}

StatusOr<internal::CipherContext> NewContext(std::string_view key, bool encrypt) {
  if (key.size() != kBulkKeyBytes) {
    return InvalidArgumentError("a bulk key must be " + std::to_string(kBulkKeyBytes) +
                                " bytes, not " + std::to_string(key.size()));
  }
  internal::CipherContext context(EVP_CIPHER_CTX_new());
  if (context == nullptr) return InternalError("cannot allocate an AES-GCM context");
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const int ok = encrypt
                     ? EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, k, nullptr)
                     : EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, k, nullptr);
  if (ok != 1) return InternalError("cannot set up AES-256-GCM");
  return context;
}

// Runs `update` (EVP_EncryptUpdate or EVP_DecryptUpdate) over `size` bytes in pieces.
template <typename Update>
bool UpdateAll(EVP_CIPHER_CTX* context, Update update, unsigned char* out, const unsigned char* in,
               size_t size) {
  for (size_t done = 0; done < size;) {
    const int piece = static_cast<int>(std::min(size - done, kMaxUpdateBytes));
    int written = 0;
    if (update(context, out + done, &written, in + done, piece) != 1 || written != piece) {
      return false;
    }
    done += static_cast<size_t>(piece);
  }
  return true;
}

}  // namespace

void internal::CipherContextDeleter::operator()(EVP_CIPHER_CTX* context) const {
  EVP_CIPHER_CTX_free(context);
}

StatusOr<std::string> GenerateBulkKey() {
  std::string key(kBulkKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return InternalError("the random generator failed");
  }
  return key;
}

StatusOr<MessageSealer> MessageSealer::Create(std::string_view key, SealDirection direction) {
  ASSIGN_OR_RETURN(internal::CipherContext context, NewContext(key, /*encrypt=*/true));
  return MessageSealer(std::move(context), direction);
}

StatusOr<Frames> MessageSealer::Seal(const Frames& frames) {
  if (frames.empty()) return InvalidArgumentError("cannot seal an empty message");
  if (frames.size() > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgumentError("too many frames to seal");
  }
  if (std::numeric_limits<uint64_t>::max() - counter_ < frames.size()) {
    return ResourceExhaustedError("the bulk key has sealed all the frames it may");
  }
  const uint32_t count = static_cast<uint32_t>(frames.size());
  Frames sealed;
  sealed.reserve(frames.size());
  EVP_CIPHER_CTX* ctx = context_.get();
  for (uint32_t i = 0; i < count; ++i) {
    const zmq::message_t& plain = frames[i];
    zmq::message_t out(plain.size() + kSealOverheadBytes);
    auto* bytes = static_cast<unsigned char*>(out.data());
    MakeNonce(direction_, counter_ + i, bytes);
    unsigned char aad[kAadBytes];
    MakeAad(bytes, i, count, aad);
    int written = 0;
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, bytes) != 1 ||
        EVP_EncryptUpdate(ctx, nullptr, &written, aad, sizeof(aad)) != 1 ||
        !UpdateAll(ctx, EVP_EncryptUpdate, bytes + kSealNonceBytes,
                   static_cast<const unsigned char*>(plain.data()), plain.size()) ||
        EVP_EncryptFinal_ex(ctx, bytes + kSealNonceBytes + plain.size(), &written) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kSealTagBytes,
                            bytes + kSealNonceBytes + plain.size()) != 1) {
      return InternalError("AES-256-GCM sealing failed");
    }
    sealed.push_back(std::move(out));
  }
  counter_ += count;
  return sealed;
}

StatusOr<MessageOpener> MessageOpener::Create(std::string_view key, SealDirection direction) {
  ASSIGN_OR_RETURN(internal::CipherContext context, NewContext(key, /*encrypt=*/false));
  return MessageOpener(std::move(context), direction);
}

std::string MessageOpener::CheckCount(size_t count) const {
  if (count > std::numeric_limits<uint32_t>::max() ||
      std::numeric_limits<uint64_t>::max() - counter_ < count) {
    return "too many frames";
  }
  return "";
}

std::string MessageOpener::OpenFrame(const zmq::message_t& sealed, size_t index, size_t count,
                                     unsigned char* out) {
  if (sealed.size() < kSealOverheadBytes) return "shorter than nonce and tag";
  const auto* bytes = static_cast<const unsigned char*>(sealed.data());
  unsigned char expected[kSealNonceBytes];
  MakeNonce(direction_, counter_ + index, expected);
  if (std::memcmp(bytes, expected, kSealNonceBytes) != 0) {
    return "not the next nonce of this direction (replayed, reordered or lost)";
  }
  const size_t size = sealed.size() - kSealOverheadBytes;
  unsigned char aad[kAadBytes];
  MakeAad(expected, static_cast<uint32_t>(index), static_cast<uint32_t>(count), aad);
  // Copied first: decrypting in place may not overwrite it, but it must not be read late.
  unsigned char tag[kSealTagBytes];
  std::memcpy(tag, bytes + kSealNonceBytes + size, kSealTagBytes);
  EVP_CIPHER_CTX* ctx = context_.get();
  int written = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, expected) != 1 ||
      EVP_DecryptUpdate(ctx, nullptr, &written, aad, sizeof(aad)) != 1 ||
      !UpdateAll(ctx, EVP_DecryptUpdate, out, bytes + kSealNonceBytes, size) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kSealTagBytes, tag) != 1 ||
      EVP_DecryptFinal_ex(ctx, out + size, &written) != 1) {
    return "authentication failed";
  }
  return "";
}

StatusOr<Frames> MessageOpener::Open(const Frames& frames) {
  const size_t count = frames.size();
  if (count == 0) return PermissionDeniedError("an empty bulk message");
  if (std::string why = CheckCount(count); !why.empty()) return Refused(0, count, why);
  Frames opened;
  opened.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    zmq::message_t plain(frames[i].size() >= kSealOverheadBytes
                             ? frames[i].size() - kSealOverheadBytes
                             : 0);
    std::string why =
        OpenFrame(frames[i], i, count, static_cast<unsigned char*>(plain.data()));
    if (!why.empty()) return Refused(i, count, why);
    opened.push_back(std::move(plain));
  }
  counter_ += count;
  return opened;
}

StatusOr<Frames> MessageOpener::OpenInPlace(Frames frames, std::optional<Destination> into) {
  const size_t count = frames.size();
  if (count == 0) return PermissionDeniedError("an empty bulk message");
  if (std::string why = CheckCount(count); !why.empty()) return Refused(0, count, why);
  // The frame opened straight into `into`, if any.
  const size_t direct = into && !into->bytes.empty() && into->index < count &&
                                frames[into->index].size() == into->bytes.size() + kSealOverheadBytes
                            ? into->index
                            : count;
  for (size_t i = 0; i < count; ++i) {
    if (frames[i].size() < kSealOverheadBytes) return Refused(i, count, "shorter than nonce and tag");
    auto* out = i == direct ? reinterpret_cast<unsigned char*>(into->bytes.data())
                            : static_cast<unsigned char*>(frames[i].data()) + kSealNonceBytes;
    std::string why = OpenFrame(frames[i], i, count, out);
    if (!why.empty()) return Refused(i, count, why);
  }
  Frames opened;
  opened.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    zmq::message_t& sealed = frames[i];
    const size_t size = sealed.size() - kSealOverheadBytes;
    if (i == direct) {
      opened.emplace_back(into->bytes.data(), size, nullptr, nullptr);
      continue;
    }
    char* plain = static_cast<char*>(sealed.data()) + kSealNonceBytes;
    if (size <= kCopyOpenedBytes) {
      opened.emplace_back(plain, size);
      continue;
    }
    // The plaintext frame owns the sealed one, and frees it with itself.
    auto* owner = new zmq::message_t(std::move(sealed));
    opened.emplace_back(
        plain, size, [](void*, void* hint) { delete static_cast<zmq::message_t*>(hint); },
        owner);
  }
  counter_ += count;
  return opened;
}

}  // namespace ferry::rpc
