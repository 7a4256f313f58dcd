// AES-256-GCM sealing of bulk-connection frames (rpc/frame_sealer.h, docs/protocol.md "Bulk
// path"): known answers computed independently (Python's `cryptography` AESGCM with the
// documented nonce and AAD layout), round trips, and every way a frame must fail to open:
// tampering, a wrong key or direction, replay, reordering, dropped, added, truncated and
// spliced frames. A failed open leaves the opener's counter where it was.
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "rpc/frame_sealer.h"
#include "rpc/in_memory_channel.h"
#include "rpc/sealed_channel.h"
#include "util/hex.h"

namespace ferry::rpc {
namespace {

std::string Key(char first = 0) {
  std::string key(kBulkKeyBytes, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(first + i);
  return key;
}

Frames Message(std::initializer_list<std::string> parts) {
  Frames frames;
  for (const std::string& part : parts) frames.emplace_back(part.data(), part.size());
  return frames;
}

std::vector<std::string> Strings(const Frames& frames) {
  std::vector<std::string> out;
  for (const zmq::message_t& f : frames) out.push_back(f.to_string());
  return out;
}

Frames Copy(const Frames& frames) {
  Frames out;
  for (const zmq::message_t& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

MessageSealer Sealer(SealDirection d = SealDirection::kClientToWorker,
                     const std::string& key = Key()) {
  return MessageSealer::Create(key, d).value();
}
MessageOpener Opener(SealDirection d = SealDirection::kClientToWorker,
                     const std::string& key = Key()) {
  return MessageOpener::Create(key, d).value();
}

TEST(FrameSealerTest, KnownAnswers) {
  MessageSealer client = Sealer(SealDirection::kClientToWorker);
  StatusOr<Frames> sealed = client.Seal(Message({"ferry", ""}));
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  ASSERT_EQ(sealed->size(), 2u);
  EXPECT_EQ(util::HexEncode((*sealed)[0].to_string()),
            "0000000100000000000000002253bfd87512313255ef8dbf923fff79bbfd63cea8");
  EXPECT_EQ(util::HexEncode((*sealed)[1].to_string()),
            "0000000100000000000000015c0bd7dc3a8834ac42ee14407c26dec7");
  EXPECT_EQ(client.next_counter(), 2u);

  MessageSealer worker = Sealer(SealDirection::kWorkerToClient);
  StatusOr<Frames> reply = worker.Seal(Message({"bulk bytes"}));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(util::HexEncode((*reply)[0].to_string()),
            "000000020000000000000000ce0936a5b2628f5a3e3365aa68e631539eae52c2b9dbdd4ead24");
}

TEST(FrameSealerTest, RoundTripsInOrderWithCountersAdvancing) {
  MessageSealer sealer = Sealer();
  MessageOpener opener = Opener();
  const std::string big(5 << 20, 'x');
  for (int i = 0; i < 3; ++i) {
    StatusOr<Frames> sealed = sealer.Seal(Message({"header " + std::to_string(i), big, ""}));
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ((*sealed)[1].size(), big.size() + kSealOverheadBytes);
    StatusOr<Frames> opened = opener.Open(*sealed);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(Strings(*opened), (std::vector<std::string>{"header " + std::to_string(i), big, ""}));
  }
  EXPECT_EQ(opener.next_counter(), 9u);
  EXPECT_EQ(sealer.next_counter(), 9u);
}

TEST(FrameSealerTest, OpensInPlaceAndStraightIntoADestination) {
  MessageSealer sealer = Sealer();
  MessageOpener opener = Opener();
  const std::string big(1 << 20, 'y');

  // In place: the same plaintext as Open, for small and large frames.
  StatusOr<Frames> opened = opener.OpenInPlace(sealer.Seal(Message({"header", big, ""})).value());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(Strings(*opened), (std::vector<std::string>{"header", big, ""}));

  // Into a destination of the frame's size: decrypted there, and the frame refers to it.
  std::vector<char> into(big.size(), '\0');
  opened = opener.OpenInPlace(sealer.Seal(Message({"header", big})).value(),
                              MessageOpener::Destination{1, std::span(into)});
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ((*opened)[1].data(), into.data());
  EXPECT_EQ(std::string(into.begin(), into.end()), big);

  // A destination of another size is not used.
  std::vector<char> small(10, '\0');
  opened = opener.OpenInPlace(sealer.Seal(Message({"header", big})).value(),
                              MessageOpener::Destination{1, std::span(small)});
  ASSERT_TRUE(opened.ok());
  EXPECT_NE((*opened)[1].data(), small.data());
  EXPECT_EQ(Strings(*opened), (std::vector<std::string>{"header", big}));
  EXPECT_EQ(opener.next_counter(), 7u);

  // Tampered or replayed: refused as Open refuses, and the counter stays.
  Frames tampered = sealer.Seal(Message({"header", big})).value();
  static_cast<char*>(tampered[1].data())[kSealNonceBytes + 7] ^= 0x01;
  Frames replay = Copy(tampered);
  opened = opener.OpenInPlace(std::move(tampered), MessageOpener::Destination{1, std::span(into)});
  EXPECT_EQ(opened.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(opener.next_counter(), 7u);
  EXPECT_EQ(opener.OpenInPlace(std::move(replay)).status().code(), StatusCode::kPermissionDenied);
}

TEST(FrameSealerTest, RefusesBadKeysAndEmptyMessages) {
  EXPECT_EQ(MessageSealer::Create("short", SealDirection::kClientToWorker).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      MessageOpener::Create(std::string(33, 'k'), SealDirection::kClientToWorker).status().code(),
      StatusCode::kInvalidArgument);
  MessageSealer sealer = Sealer();
  EXPECT_EQ(sealer.Seal(Frames()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sealer.next_counter(), 0u);
  MessageOpener opener = Opener();
  EXPECT_EQ(opener.Open(Frames()).status().code(), StatusCode::kPermissionDenied);
}

TEST(FrameSealerTest, GeneratedKeysAreFreshAndFullLength) {
  StatusOr<std::string> a = GenerateBulkKey(), b = GenerateBulkKey();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), kBulkKeyBytes);
  EXPECT_NE(*a, *b);
}

// Opening `sealed` fails with kPermissionDenied and leaves the opener's counter unchanged.
void ExpectRefused(MessageOpener& opener, const Frames& sealed, const std::string& why) {
  const uint64_t before = opener.next_counter();
  StatusOr<Frames> opened = opener.Open(sealed);
  EXPECT_EQ(opened.status().code(), StatusCode::kPermissionDenied) << why;
  EXPECT_EQ(opener.next_counter(), before) << why;
}

class FrameSealerTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = sealer_.Seal(Message({"first header", "first payload"})).value();
    second_ = sealer_.Seal(Message({"second header", "second payload"})).value();
  }
  MessageSealer sealer_ = Sealer();
  MessageOpener opener_ = Opener();
  Frames first_, second_;
};

TEST_F(FrameSealerTamperTest, FlippedBitsAnywhereFail) {
  for (size_t frame = 0; frame < 2; ++frame) {
    const size_t size = first_[frame].size();
    for (size_t at : {size_t{0}, size_t{5}, kSealNonceBytes, kSealNonceBytes + 3, size - 1}) {
      Frames tampered = Copy(first_);
      static_cast<char*>(tampered[frame].data())[at] ^= 0x01;
      ExpectRefused(
          opener_, tampered,
          "bit flipped in frame " + std::to_string(frame) + " at byte " + std::to_string(at));
    }
  }
  // The untouched message still opens: failures changed nothing.
  ASSERT_TRUE(opener_.Open(first_).ok());
}

TEST_F(FrameSealerTamperTest, WrongKeyOrDirectionFails) {
  MessageOpener other_key = Opener(SealDirection::kClientToWorker, Key(1));
  ExpectRefused(other_key, first_, "another key");
  MessageOpener other_direction = Opener(SealDirection::kWorkerToClient);
  ExpectRefused(other_direction, first_, "the other direction");
  // A worker's reply reflected back to the worker does not open either.
  MessageSealer worker = Sealer(SealDirection::kWorkerToClient);
  ExpectRefused(opener_, worker.Seal(Message({"reply"})).value(), "a reflected reply");
}

TEST_F(FrameSealerTamperTest, ReplayAndReorderFail) {
  ExpectRefused(opener_, second_, "the second message first");
  ASSERT_TRUE(opener_.Open(first_).ok());
  ExpectRefused(opener_, first_, "the first message again");
  ASSERT_TRUE(opener_.Open(second_).ok());
  ExpectRefused(opener_, second_, "the second message again");
  Frames swapped;
  swapped.push_back(std::move(Copy(first_)[1]));
  swapped.push_back(std::move(Copy(first_)[0]));
  MessageOpener fresh = Opener();
  ExpectRefused(fresh, swapped, "frames swapped");
}

TEST_F(FrameSealerTamperTest, DroppedAddedTruncatedAndSplicedFramesFail) {
  Frames first_only;
  first_only.push_back(std::move(Copy(first_)[0]));
  ExpectRefused(opener_, first_only, "last frame dropped");

  Frames added = Copy(first_);
  added.push_back(std::move(Copy(second_)[0]));
  ExpectRefused(opener_, added, "a frame added");

  Frames truncated = Copy(first_);
  truncated[1] = zmq::message_t(first_[1].data(), first_[1].size() - 1);
  ExpectRefused(opener_, truncated, "a frame truncated by one byte");
  truncated[1] = zmq::message_t(first_[1].data(), kSealOverheadBytes - 1);
  ExpectRefused(opener_, truncated, "a frame shorter than nonce and tag");

  // The first message's frames re-sent as two one-frame messages: the counters match, but the
  // frame count and index in the AAD do not.
  Frames head;
  head.push_back(std::move(Copy(first_)[0]));
  ExpectRefused(opener_, head, "a frame moved into a message of its own");

  ASSERT_TRUE(opener_.Open(first_).ok());
  ASSERT_TRUE(opener_.Open(second_).ok());
}

TEST(SealedChannelTest, CarriesMessagesBothWaysAndBreaksOnTampering) {
  auto [client_end, worker_end] = MakeInMemoryChannelPair();
  Channel* worker_raw = worker_end.get();
  StatusOr<std::unique_ptr<SealedChannel>> client =
      SealedChannel::Create(std::move(client_end), Key(), SealDirection::kClientToWorker);
  ASSERT_TRUE(client.ok());
  MessageOpener worker_opener = Opener(SealDirection::kClientToWorker);
  MessageSealer worker_sealer = Sealer(SealDirection::kWorkerToClient);
  const Deadline deadline = Clock::now() + std::chrono::seconds(5);

  ASSERT_TRUE((*client)->Send(Message({"request", "payload"}), deadline).ok());
  StatusOr<std::optional<Frames>> on_wire = worker_raw->Receive(deadline);
  ASSERT_TRUE(on_wire.ok() && on_wire->has_value());
  EXPECT_EQ((**on_wire)[1].to_string().find("payload"), std::string::npos) << "sent in clear";
  StatusOr<Frames> opened = worker_opener.Open(**on_wire);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(Strings(*opened), (std::vector<std::string>{"request", "payload"}));

  ASSERT_TRUE(worker_raw->Send(worker_sealer.Seal(Message({"reply"})).value(), deadline).ok());
  StatusOr<std::optional<Frames>> reply = (*client)->Receive(deadline);
  ASSERT_TRUE(reply.ok() && reply->has_value());
  EXPECT_EQ(Strings(**reply), (std::vector<std::string>{"reply"}));

  // A replayed reply breaks the channel for good.
  Frames replay = worker_sealer.Seal(Message({"second"})).value();
  ASSERT_TRUE(worker_raw->Send(Copy(replay), deadline).ok());
  ASSERT_TRUE(worker_raw->Send(Copy(replay), deadline).ok());
  ASSERT_TRUE((*client)->Receive(deadline).ok());
  EXPECT_EQ((*client)->Receive(deadline).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ((*client)->Send(Message({"more"}), deadline).code(), StatusCode::kPermissionDenied);
}

TEST(SealedChannelTest, OnlyBulkBytesTravelOnTheBulkPath) {
  EXPECT_TRUE(IsBulkMessageType(MessageType::kCopyToRemote));
  EXPECT_TRUE(IsBulkMessageType(MessageType::kCopyFromRemote));
  EXPECT_TRUE(IsBulkMessageType(MessageType::kUploadChunk));
  for (MessageType other :
       {MessageType::kHello, MessageType::kCallFunction, MessageType::kReleaseHandles,
        MessageType::kUploadBegin, MessageType::kUploadEnd, MessageType::kDownload}) {
    EXPECT_FALSE(IsBulkMessageType(other)) << MessageTypeName(other);
  }
}

}  // namespace
}  // namespace ferry::rpc
