#include "runtime/kernel_threads.h"

#include <dlfcn.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace ferry {
namespace {

constexpr int kMaxThreads = 1024;

// 0 until the first use; then the process-wide count.
std::atomic<int> configured_threads{0};

// OpenBLAS's pthread build keeps a pool of its own; it is looked up at run time so that this
// file does not tie the runtime to one BLAS. Other BLAS builds lack the symbol.
void SetBlasThreads(int threads) {
  using SetThreads = void (*)(int);
  static const auto set =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set != nullptr) set(threads);
}

}  // namespace

StatusOr<int> DefaultKernelThreads() {
  if (const char* text = std::getenv("FERRY_NUM_THREADS"); text != nullptr && *text != '\0') {
    errno = 0;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < 1 || value > kMaxThreads) {
      return InvalidArgumentError("FERRY_NUM_THREADS='" + std::string(text) +
                                  "' is not a thread count from 1 to " +
                                  std::to_string(kMaxThreads));
    }
    return static_cast<int>(value);
  }
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0) return 1;
  return std::max(1, CPU_COUNT(&cpus));
}

Status SetKernelThreads(int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    return InvalidArgumentError("thread count " + std::to_string(threads) +
                                " is not from 1 to " + std::to_string(kMaxThreads));
  }
  configured_threads.store(threads);
  ApplyKernelThreads();
  return Status::Ok();
}

int KernelThreads() {
  int threads = configured_threads.load();
  if (threads == 0) {
    StatusOr<int> fallback = DefaultKernelThreads();
    int expected = 0;
    configured_threads.compare_exchange_strong(expected, fallback.ok() ? *fallback : 1);
    threads = configured_threads.load();
  }
  return threads;
}

void ApplyKernelThreads() {
  const int threads = KernelThreads();
  thread_local int applied = 0;
  if (applied == threads) return;
  omp_set_num_threads(threads);
  SetBlasThreads(threads);
  applied = threads;
}

}  // namespace ferry
