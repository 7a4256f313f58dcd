// tracker/malloc_tuning.h: with the daemons' malloc settings, freed buffers of the size ZeroMQ
// allocates per connection (8-16 KiB) give their memory back even when small live allocations
// sit between them; with glibc's defaults they do not. Regression test for the soak's growing
// tracker and agent RSS (bench/README.md, "soak"). Each case runs in a child process, since
// malloc settings are process-wide.
#include "util/malloc_tuning.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FERRY_SANITIZED_MALLOC 1  // the sanitizer's allocator ignores glibc's settings
#endif

namespace ferry::util {
namespace {

constexpr int kBuffers = 1024;
constexpr size_t kBufferBytes = 16 << 10;  // a ZeroMQ pipe chunk: 256 messages of 64 bytes

int64_t RssKiB() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// In a child (tuned or not): allocates kBuffers buffers (touched), each followed by a small
// allocation that stays live, frees the buffers and returns how many KiB RSS fell by then
// (INT64_MIN when the child failed).
int64_t FreedKiBInChild(bool tuned) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (tuned && !TuneMallocForServer()) _exit(2);
    std::vector<char*> buffers, pins;
    buffers.reserve(kBuffers);
    pins.reserve(kBuffers);
    for (int i = 0; i < kBuffers; ++i) {
      buffers.push_back(static_cast<char*>(std::malloc(kBufferBytes)));
      for (size_t b = 0; b < kBufferBytes; b += 512) buffers.back()[b] = 1;
      pins.push_back(static_cast<char*>(std::malloc(64)));
      pins.back()[0] = 1;
    }
    const int64_t before = RssKiB();
    for (char* b : buffers) std::free(b);
    const int64_t freed = before - RssKiB();
    const bool written = write(fds[1], &freed, sizeof(freed)) == sizeof(freed);
    _exit(written ? 0 : 3);
  }
  close(fds[1]);
  int64_t freed = -1;
  if (pid < 0 || read(fds[0], &freed, sizeof(freed)) != sizeof(freed)) freed = INT64_MIN;
  close(fds[0]);
  if (pid > 0) waitpid(pid, nullptr, 0);
  return freed;
}

TEST(MallocTuningTest, FreedConnectionBuffersGiveTheirMemoryBack) {
#ifdef FERRY_SANITIZED_MALLOC
  GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc";
#endif
  const int64_t allocated_kib = int64_t{kBuffers} * kBufferBytes / 1024;  // 16 MiB
  const int64_t tuned = FreedKiBInChild(true);
  ASSERT_NE(tuned, INT64_MIN) << "the child failed";
  EXPECT_GE(tuned, allocated_kib / 2) << "with TuneMallocForServer, freeing " << allocated_kib
                                      << " KiB gave back " << tuned << " KiB";
  // The contrast this guards: glibc's defaults keep the pages (the soak's growth).
  const int64_t untuned = FreedKiBInChild(false);
  ASSERT_NE(untuned, INT64_MIN) << "the child failed";
  EXPECT_LT(untuned, allocated_kib / 10)
      << "glibc's defaults gave back " << untuned << " KiB: this test no longer shows the "
      << "difference (a changed glibc?)";
}

}  // namespace
}  // namespace ferry::util
