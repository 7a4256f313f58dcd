// TuneMallocForServer: glibc malloc settings for the long-running daemons (ferry-tracker,
// and the ferry-agent daemon, not its session workers). Call first in main(), before any
// thread starts.
//
// Allocations of at least kServerMmapThreshold bytes get their own mappings, returned to the
// system when freed. ZeroMQ's I/O thread allocates 8-16 KiB per connection (pipe chunks,
// encoder and decoder buffers) between the small long-lived allocations of the traffic it
// serves; with glibc's default (dynamic) threshold those buffers went to arena chunks that
// small live allocations pinned, and their pages were never returned. Under the soak
// (bench/README.md, "soak") the tracker's RSS grew ~700 KiB with each wave of reconnecting
// clients and an agent's ~3 KiB per session while their live heaps (heaptrack) stayed flat;
// with these settings both stay within 1% at the same throughput. Setting the threshold also
// turns off glibc's raising of it after a large block is freed. Mappings are capped at
// kServerMmapMax, well below the kernel's default vm.max_map_count (65530): past the cap such
// allocations come from the arena again rather than fail.
#ifndef FERRY_UTIL_MALLOC_TUNING_H_
#define FERRY_UTIL_MALLOC_TUNING_H_

#include <malloc.h>

#include <cstddef>

namespace ferry::util {

inline constexpr size_t kServerMmapThreshold = size_t{8} << 10;
inline constexpr int kServerMmapMax = 16384;

// Returns false when glibc refused a setting (then malloc keeps its defaults for it).
inline bool TuneMallocForServer() {
  const bool threshold = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kServerMmapThreshold)) == 1;
  const bool max = mallopt(M_MMAP_MAX, kServerMmapMax) == 1;
  return threshold && max;
}

}  // namespace ferry::util

#endif  // FERRY_UTIL_MALLOC_TUNING_H_
