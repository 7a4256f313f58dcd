// Helpers shared by the fuzz targets and the seed generator (make_seeds.cc).
//
// Frame encoding of a fuzz input (the targets that take a multipart message): the input is a
// sequence of frames, each a 4-byte little-endian length followed by that many bytes. A
// length past the end of the input takes what remains; fewer than 4 bytes left end the
// message (those bytes are ignored). At most kMaxFuzzFrames frames are read; the rest of the
// input is ignored.
#ifndef FERRY_TESTS_FUZZ_FUZZ_UTIL_H_
#define FERRY_TESTS_FUZZ_FUZZ_UTIL_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rpc/frames.h"
#include "runtime/status.h"

namespace ferry::fuzz {

inline constexpr size_t kMaxFuzzFrames = 64;

// The shared secret of the tracker, ticket and seed generator, and "now" for tickets.
inline constexpr std::string_view kFuzzSecret = "fuzz-secret-0123456789abcdef";
inline constexpr int64_t kFuzzNowMs = 1'700'000'000'000;

inline rpc::Frames SplitFrames(std::string_view input) {
  rpc::Frames frames;
  while (input.size() >= 4 && frames.size() < kMaxFuzzFrames) {
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length |= uint32_t{static_cast<uint8_t>(input[i])} << (8 * i);
    input.remove_prefix(4);
    const size_t n = std::min<size_t>(length, input.size());
    frames.emplace_back(input.data(), n);
    input.remove_prefix(n);
  }
  return frames;
}

// The inverse of SplitFrames, for seeds.
inline std::string JoinFrames(const rpc::Frames& frames) {
  std::string out;
  for (const zmq::message_t& f : frames) {
    const auto length = static_cast<uint32_t>(f.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    out.append(static_cast<const char*>(f.data()), f.size());
  }
  return out;
}

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property of the parser failed: report and abort, so libFuzzer saves the input.
[[noreturn]] inline void Fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "fuzz property failed: %s %s\n", what, detail.c_str());
  std::abort();
}

// An in-memory file (memfd) holding `bytes`, for parsers that read paths; closed on
// destruction. path() names it through /proc/self/fd.
class MemFile {
 public:
  explicit MemFile(std::string_view bytes) : fd_(memfd_create("ferry-fuzz", 0)) {
    if (fd_ < 0) Fail("memfd_create");
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) Fail("memfd write");
      done += static_cast<size_t>(n);
    }
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace ferry::fuzz

#endif  // FERRY_TESTS_FUZZ_FUZZ_UTIL_H_
