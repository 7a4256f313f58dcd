// bench_main.h: what the bench programs share around their own benchmarks: main()'s guard
// against escaping exceptions, Google Benchmark's start-up with a program's default flags,
// and the median and table-cell helpers of their summaries. See bench/README.md.
//
// Everything here is inline except InitializeBenchmark, which lives in bench_main.cc (the
// ferry_bench_main library, linked with Google Benchmark): tracker_bench, a plain program,
// uses this header without it.
#ifndef FERRY_BENCH_BENCH_MAIN_H_
#define FERRY_BENCH_BENCH_MAIN_H_

#include <algorithm>
#include <cstdio>
#include <exception>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace ferry::bench {

// Google Benchmark's start-up: the `count` flags at `default_flags` go before the command
// line's own, which override them. Returns false (after reporting it) when an argument is not
// recognized.
bool InitializeBenchmark(int argc, char** argv, const char* const* default_flags, size_t count);

template <size_t N>
bool InitializeBenchmark(int argc, char** argv, const char* const (&default_flags)[N]) {
  return InitializeBenchmark(argc, argv, default_flags, N);
}

// The body of a bench program's main(): runs `main_fn`, and reports an exception that escapes
// it as "<program>: <what>" and exit status 1.
inline int RunMain(const char* program, int (*main_fn)(int, char**), int argc, char** argv) {
  try {
    return main_fn(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

// The median of `v`; nullopt when it is empty.
inline std::optional<double> Median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// `v` printed with `format` (one double), or "n/a".
inline std::string Cell(std::optional<double> v, const char* format) {
  if (!v) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), format, *v);
  return buffer;
}

}  // namespace ferry::bench

#endif  // FERRY_BENCH_BENCH_MAIN_H_
