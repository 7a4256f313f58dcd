// ParallelFor: the one way the CPU kernels spread work over the process's OpenMP threads
// (runtime/kernel_threads.h sizes that pool); internal to ferry_kernels.
//
// Each call splits [0, n) into contiguous ranges, one per thread, and runs body(begin, end)
// for each range, so a kernel keeps its serial loop (and any state it carries from one index
// to the next) inside a range. A body must compute each output element exactly as the serial
// loop does, from ranges that write disjoint outputs: then the result is bit-identical for
// every thread count. A body must not throw.
#ifndef FERRY_RUNTIME_KERNELS_PARALLEL_FOR_H_
#define FERRY_RUNTIME_KERNELS_PARALLEL_FOR_H_

#include <omp.h>
#include <stdint.h>

#include <algorithm>

namespace ferry::kernels::internal {

// Work (roughly: elements read or written) below which a call stays on the calling thread:
// waking the team costs a few microseconds, as much as tens of thousands of element ops.
inline constexpr int64_t kParallelMinWork = int64_t{1} << 16;
// Each thread gets at least this much work, so a call just over the threshold uses a few
// threads, not the whole pool.
inline constexpr int64_t kParallelWorkPerThread = int64_t{1} << 15;

// Runs body(begin, end) over a partition of [0, n) (nothing when n <= 0). `work` is the
// whole call's work: below kParallelMinWork, with one thread configured, or inside a
// parallel region already, body(0, n) runs once on the calling thread, without OpenMP.
template <typename Body>
void ParallelFor(int64_t n, int64_t work, const Body& body) {
  if (n <= 0) return;
  int64_t threads = 1;
  if (n > 1 && work >= kParallelMinWork && !omp_in_parallel()) {
    threads = std::min<int64_t>({omp_get_max_threads(), n, work / kParallelWorkPerThread});
  }
  if (threads <= 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    // The team may be smaller than asked (OMP_DYNAMIC, thread limits): split by its size.
    const int64_t team = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = n / team, extra = n % team;
    const int64_t begin = t * chunk + std::min(t, extra);
    const int64_t end = begin + chunk + (t < extra ? 1 : 0);
    if (begin < end) body(begin, end);
  }
}

}  // namespace ferry::kernels::internal

#endif  // FERRY_RUNTIME_KERNELS_PARALLEL_FOR_H_
