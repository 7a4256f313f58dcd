// The number of threads the CPU kernels of this process use: element-wise, pooling and layout
// kernels, oneDNN's convolutions and OpenBLAS's GEMMs all draw on one OpenMP pool of that
// size (OpenBLAS's own pool is sized to match where it is not the OpenMP build).
//
// The count is process-wide. OpenMP keeps its setting per thread, so every executor run
// applies the process-wide count to the thread it runs on (ApplyKernelThreads); a change made
// by SetKernelThreads takes effect on other threads at their next run.
#ifndef FERRY_RUNTIME_KERNEL_THREADS_H_
#define FERRY_RUNTIME_KERNEL_THREADS_H_

#include "runtime/status.h"

namespace ferry {

// FERRY_NUM_THREADS when set to a positive integer, else the number of CPUs this process may
// run on (sched_getaffinity). A malformed FERRY_NUM_THREADS is an error, not ignored.
StatusOr<int> DefaultKernelThreads();

// Sets the process-wide count (1 to 1024) and applies it to the calling thread.
Status SetKernelThreads(int threads);

// The process-wide count: the last SetKernelThreads, else DefaultKernelThreads (1 when that
// fails).
int KernelThreads();

// Makes the calling thread's OpenMP and BLAS use KernelThreads(); cheap when nothing changed.
void ApplyKernelThreads();

}  // namespace ferry

#endif  // FERRY_RUNTIME_KERNEL_THREADS_H_
