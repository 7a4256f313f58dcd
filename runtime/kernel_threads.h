// The number of threads the CPU kernels of this process use: element-wise, pooling and layout
// kernels, oneDNN's convolutions and OpenBLAS's GEMMs all draw on one OpenMP pool of that
// size (OpenBLAS's own pool is sized to match where it is not the OpenMP build).
//
// The count is process-wide. OpenMP keeps its setting per thread, so every executor run
// applies the process-wide count to the thread it runs on (ApplyKernelThreads); a change made
// by SetKernelThreads takes effect on other threads at their next run.
//
// Who sets it: `ferry run` / `ferry time --threads N` in the CLI's process (or, with --agent,
// in the session's worker through "ferry.set_threads"), `ferry-agent --threads N` in every
// session worker it starts, and FERRY_NUM_THREADS everywhere else.
#ifndef FERRY_RUNTIME_KERNEL_THREADS_H_
#define FERRY_RUNTIME_KERNEL_THREADS_H_

#include <string_view>

#include "runtime/function_registry.h"
#include "runtime/status.h"

namespace ferry {

// The largest thread count accepted.
inline constexpr int kMaxKernelThreads = 1024;

// Parses a thread count: a decimal integer from 1 to kMaxKernelThreads, nothing else (no
// sign, spaces or suffix). `source` names where the text came from in the error
// ("--threads", "FERRY_NUM_THREADS"). Errors: kInvalidArgument.
StatusOr<int> ParseKernelThreads(std::string_view text, std::string_view source);

// FERRY_NUM_THREADS when set and non-empty (parsed by ParseKernelThreads), else the number
// of CPUs this process may run on (sched_getaffinity). A malformed FERRY_NUM_THREADS is an
// error (kInvalidArgument), not ignored.
StatusOr<int> DefaultKernelThreads();

// Sets the process-wide count (1 to kMaxKernelThreads) and applies it to the calling thread.
// Errors: kInvalidArgument outside that range (the count is then unchanged).
Status SetKernelThreads(int threads);

// The process-wide count: the last SetKernelThreads, else DefaultKernelThreads (1 when that
// fails).
int KernelThreads();

// Makes the calling thread's OpenMP and BLAS use KernelThreads(); cheap when nothing changed.
void ApplyKernelThreads();

// Registers the session functions over the count: "ferry.set_threads" (n) -> null, which
// calls SetKernelThreads(n) (kInvalidArgument for a count out of range or not an integer),
// and "ferry.get_threads" () -> KernelThreads(). Errors: those of FunctionRegistry::Register.
Status RegisterKernelThreadFunctions(FunctionRegistry& registry);

}  // namespace ferry

#endif  // FERRY_RUNTIME_KERNEL_THREADS_H_
