#include "bench/peak_flops.h"

#include <time.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ferry::bench {
namespace {

using Clock = std::chrono::steady_clock;


#if defined(__x86_64__)
constexpr int kFmaChains = 12;
constexpr long kFmaStepsPerCheck = 1 << 15;
volatile float fma_sink;  // keeps the chains' results alive

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Whether a loop that started at `cpu_start` (thread CPU time) and `wall_start` has run for
// `seconds` of CPU time, or for 20 times that of wall time (a machine too busy to give it more).
bool FmaLoopDone(double cpu_start, Clock::time_point wall_start, double seconds,
                 double& cpu_elapsed) {
  cpu_elapsed = ThreadCpuSeconds() - cpu_start;
  return cpu_elapsed >= seconds ||
         std::chrono::duration<double>(Clock::now() - wall_start).count() >= 20 * seconds;
}

__attribute__((target("avx512f"))) double FmaGflopsAvx512(double seconds) {
  __m512 acc[kFmaChains];
  for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm512_set1_ps(0.5f + 0.01f * k);
  const __m512 m = _mm512_set1_ps(0.999f);
  const __m512 a = _mm512_set1_ps(0.001f);
  long steps = 0;
  double elapsed = 0;
  const Clock::time_point wall_start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  do {
    for (long i = 0; i < kFmaStepsPerCheck; ++i) {
#pragma GCC unroll 12
      for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], m, a);
    }
    steps += kFmaStepsPerCheck;
  } while (!FmaLoopDone(cpu_start, wall_start, seconds, elapsed));
  __m512 sum = acc[0];
  for (int k = 1; k < kFmaChains; ++k) sum = _mm512_add_ps(sum, acc[k]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  fma_sink = lanes[0] + lanes[15];
  return static_cast<double>(steps) * kFmaChains * 16 * 2 / elapsed / 1e9;
}

__attribute__((target("avx2,fma"))) double FmaGflopsAvx2(double seconds) {
  __m256 acc[kFmaChains];
  for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm256_set1_ps(0.5f + 0.01f * k);
  const __m256 m = _mm256_set1_ps(0.999f);
  const __m256 a = _mm256_set1_ps(0.001f);
  long steps = 0;
  double elapsed = 0;
  const Clock::time_point wall_start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  do {
    for (long i = 0; i < kFmaStepsPerCheck; ++i) {
#pragma GCC unroll 12
      for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm256_fmadd_ps(acc[k], m, a);
    }
    steps += kFmaStepsPerCheck;
  } while (!FmaLoopDone(cpu_start, wall_start, seconds, elapsed));
  __m256 sum = acc[0];
  for (int k = 1; k < kFmaChains; ++k) sum = _mm256_add_ps(sum, acc[k]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  fma_sink = lanes[0] + lanes[7];
  return static_cast<double>(steps) * kFmaChains * 8 * 2 / elapsed / 1e9;
}
#endif

}  // namespace

void MeasurePeakGflops(PeakFlops& peak) {
#if defined(__x86_64__)
  double (*loop)(double) = nullptr;
  if (__builtin_cpu_supports("avx512f")) {
    loop = FmaGflopsAvx512;
    peak.isa = "AVX-512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    loop = FmaGflopsAvx2;
    peak.isa = "AVX2";
  } else {
    peak.isa = "no AVX2 or AVX-512 FMA: not measured";
    return;
  }
#ifndef __OPTIMIZE__
  peak.isa += " (unoptimised build: understated)";
#endif
  for (int round = 0; round < 2; ++round) {
    const double gflops = loop(0.1);
    peak.gflops = std::max(peak.gflops, gflops);
    peak.min_gflops = peak.measurements == 0 ? gflops : std::min(peak.min_gflops, gflops);
    ++peak.measurements;
  }
#else
  peak.isa = "not x86-64: not measured";
#endif
}


}  // namespace ferry::bench
