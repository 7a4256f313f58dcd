#include "runtime/kernel_threads.h"

#include <dlfcn.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "runtime/value.h"

namespace ferry {
namespace {

// 0 until the first use; then the process-wide count.
std::atomic<int> configured_threads{0};

// OpenBLAS's pthread build keeps a pool of its own. Its setter is looked up at run time, so
// that this file does not tie the runtime to one BLAS: in the global scope, or in the OpenBLAS
// a model library brought in (libraries load RTLD_LOCAL, out of the global scope's sight: a
// session worker links no BLAS of its own). Null while no OpenBLAS is loaded; once found, the
// reference dlopen took keeps OpenBLAS loaded for the process's life, so the pointer stays
// valid after the model library that brought it is unloaded.
using SetBlasThreadsFn = void (*)(int);
SetBlasThreadsFn FindBlasSetThreads() {
  static std::atomic<SetBlasThreadsFn> found{nullptr};
  if (SetBlasThreadsFn set = found.load()) return set;
  void* library = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
  if (library == nullptr) return nullptr;
  auto set = reinterpret_cast<SetBlasThreadsFn>(dlsym(library, "openblas_set_num_threads"));
  if (set == nullptr) {
    dlclose(library);
    return nullptr;
  }
  found.store(set);
  return set;
}

// The BLAS thread count last applied (process-wide, like OpenBLAS's pool); 0 before.
std::atomic<int> blas_threads_applied{0};

}  // namespace

StatusOr<int> ParseKernelThreads(std::string_view text, std::string_view source) {
  // Digits only, at most 4 of them (so the value cannot overflow), then the range.
  bool valid = !text.empty() && text.size() <= 4;
  int value = 0;
  for (size_t i = 0; valid && i < text.size(); ++i) {
    valid = text[i] >= '0' && text[i] <= '9';
    value = value * 10 + (text[i] - '0');
  }
  if (!valid || value < 1 || value > kMaxKernelThreads) {
    return InvalidArgumentError(std::string(source) + "='" + std::string(text) +
                                "' is not a thread count from 1 to " +
                                std::to_string(kMaxKernelThreads));
  }
  return value;
}

StatusOr<int> DefaultKernelThreads() {
  if (const char* text = std::getenv("FERRY_NUM_THREADS"); text != nullptr && *text != '\0') {
    return ParseKernelThreads(text, "FERRY_NUM_THREADS");
  }
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0) return 1;
  return std::max(1, CPU_COUNT(&cpus));
}

Status SetKernelThreads(int threads) {
  if (threads < 1 || threads > kMaxKernelThreads) {
    return InvalidArgumentError("thread count " + std::to_string(threads) +
                                " is not from 1 to " + std::to_string(kMaxKernelThreads));
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
  // OpenMP's count is per thread; OpenBLAS's is the process's, and applied once OpenBLAS is
  // loaded (a model library may bring it in after the count was set).
  thread_local int omp_applied = 0;
  if (omp_applied != threads) {
    omp_set_num_threads(threads);
    omp_applied = threads;
  }
  if (blas_threads_applied.load() != threads) {
    if (SetBlasThreadsFn set = FindBlasSetThreads()) {
      set(threads);
      blas_threads_applied.store(threads);
    }
  }
}

Status RegisterKernelThreadFunctions(FunctionRegistry& registry) {
  RETURN_IF_ERROR(registry.Register(
      "ferry.set_threads", PackedFunc([](std::span<const Value> args) -> StatusOr<Value> {
        constexpr const char* kName = "ferry.set_threads";
        RETURN_IF_ERROR(CheckArgCount(kName, args, 1));
        ASSIGN_OR_RETURN(int64_t threads, GetArg<int64_t>(kName, args, 0));
        if (threads < 1 || threads > kMaxKernelThreads) {
          return InvalidArgumentError(std::string(kName) + ": thread count " +
                                      std::to_string(threads) + " is not from 1 to " +
                                      std::to_string(kMaxKernelThreads));
        }
        RETURN_IF_ERROR(SetKernelThreads(static_cast<int>(threads)));
        return Value();
      })));
  return registry.Register("ferry.get_threads",
                           PackedFunc([](std::span<const Value> args) -> StatusOr<Value> {
                             RETURN_IF_ERROR(CheckArgCount("ferry.get_threads", args, 0));
                             return Value(KernelThreads());
                           }));
}

}  // namespace ferry
