// Fuzz target: opening sealed bulk frames (rpc/frame_sealer.h MessageOpener) under a fixed
// key, as a session worker or client receives them on the bulk connection.
//
// Input: the first byte chooses the mode, the rest are frames in the encoding of
// fuzz_util.h.
//   even: the frames are sealed frames as received: Open and OpenInPlace must refuse them
//         (kPermissionDenied) unless they authenticate, and must not advance the counter
//         when refusing.
//   odd:  the frames are plaintext: sealed with the matching sealer, opened again (must give
//         the same bytes, by both Open and OpenInPlace), and then the sealed message with one
//         byte flipped (chosen by the second input byte) must be refused.
#include <cstring>

#include "rpc/frame_sealer.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::rpc;

namespace {

const std::string kKey(kBulkKeyBytes, '\x5a');

Frames Copy(const Frames& frames) {
  Frames out;
  for (const zmq::message_t& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

bool SameBytes(const Frames& a, const Frames& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size()) != 0) {
      return false;
    }
  }
  return true;
}

MessageOpener NewOpener() {
  return std::move(MessageOpener::Create(kKey, SealDirection::kClientToWorker).value());
}

void ExpectRefused(const Frames& sealed, const char* what) {
  MessageOpener opener = NewOpener();
  StatusOr<Frames> opened = opener.Open(sealed);
  if (opened.ok()) fuzz::Fail(what, "Open accepted it");
  if (opened.status().code() != StatusCode::kPermissionDenied) {
    fuzz::Fail("unexpected Open error", opened.status().ToString());
  }
  if (opener.next_counter() != 0) fuzz::Fail("a refused message advanced the counter");
  StatusOr<Frames> in_place = opener.OpenInPlace(Copy(sealed));
  if (in_place.ok()) fuzz::Fail(what, "OpenInPlace accepted it");
  if (opener.next_counter() != 0) fuzz::Fail("a refused message advanced the counter");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  Frames frames = fuzz::SplitFrames(fuzz::AsView(data + 1, size - 1));
  if (!(mode & 1)) {
    MessageOpener opener = NewOpener();
    StatusOr<Frames> opened = opener.Open(frames);
    if (!opened.ok() && opened.status().code() != StatusCode::kPermissionDenied) {
      fuzz::Fail("unexpected Open error", opened.status().ToString());
    }
    MessageOpener opener2 = NewOpener();
    StatusOr<Frames> in_place = opener2.OpenInPlace(Copy(frames));
    if (opened.ok() != in_place.ok()) fuzz::Fail("Open and OpenInPlace disagree");
    return 0;
  }
  if (frames.empty()) return 0;
  MessageSealer sealer =
      std::move(MessageSealer::Create(kKey, SealDirection::kClientToWorker).value());
  StatusOr<Frames> sealed = sealer.Seal(frames);
  if (!sealed.ok()) fuzz::Fail("Seal failed", sealed.status().ToString());
  MessageOpener opener = NewOpener();
  StatusOr<Frames> opened = opener.Open(*sealed);
  if (!opened.ok() || !SameBytes(*opened, frames)) fuzz::Fail("sealed frames do not open");
  MessageOpener opener2 = NewOpener();
  StatusOr<Frames> in_place = opener2.OpenInPlace(Copy(*sealed));
  if (!in_place.ok() || !SameBytes(*in_place, frames)) fuzz::Fail("OpenInPlace differs");
  // Flip one byte of one sealed frame.
  size_t total = 0;
  for (const zmq::message_t& f : *sealed) total += f.size();
  size_t at = (size > 1 ? data[1] * 131u : 0) % total;
  for (zmq::message_t& f : *sealed) {
    if (at < f.size()) {
      static_cast<char*>(f.data())[at] ^= 0x01;
      break;
    }
    at -= f.size();
  }
  ExpectRefused(*sealed, "a tampered message opened");
  return 0;
}
