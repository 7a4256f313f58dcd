// This core's peak float32 FLOP/s, onnx_models_bench's yardstick for GFLOP/s, measured: kFmaChains independent chains of vector FMAs
// (acc = acc * m + a, which settles at 1: no overflow, no denormals) on the calling thread.
// Twelve chains cover the FMA latency (4 cycles) on two FMA pipes. The rate is per second of
// the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not of wall time, so that time the thread
// spends preempted by other work on a shared machine does not lower it. The functions carry
// target attributes, so the rest of the program needs no -m flags; they are only called where
// __builtin_cpu_supports says the instructions exist.
#ifndef FERRY_BENCH_PEAK_FLOPS_H_
#define FERRY_BENCH_PEAK_FLOPS_H_

#include <string>

namespace ferry::bench {

struct PeakFlops {
  double gflops = 0;      // one thread, the best measurement; 0: not measured
  double min_gflops = 0;  // the worst one
  int measurements = 0;
  std::string isa;  // "AVX-512", "AVX2", or why nothing was measured
};

// Adds two measurements of 0.1 s of CPU time each to `peak`. Called several times in a run
// (before each model); the best is the estimate, the worst shows how far they spread (a
// hypervisor's other guests or frequency changes can still move them).
void MeasurePeakGflops(PeakFlops& peak);

}  // namespace ferry::bench

#endif  // FERRY_BENCH_PEAK_FLOPS_H_
