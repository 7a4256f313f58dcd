#include "bench/bench_main.h"

#include <benchmark/benchmark.h>

namespace ferry::bench {

bool InitializeBenchmark(int argc, char** argv, const char* const* default_flags, size_t count) {
  std::vector<char*> args = {argv[0]};
  for (size_t i = 0; i < count; ++i) args.push_back(const_cast<char*>(default_flags[i]));
  args.insert(args.end(), argv + 1, argv + argc);
  int args_count = static_cast<int>(args.size());
  benchmark::Initialize(&args_count, args.data());
  return !benchmark::ReportUnrecognizedArguments(args_count, args.data());
}

}  // namespace ferry::bench
