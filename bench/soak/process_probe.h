// ProcessProbe: samples the resident memory (VmRSS in /proc/PID/status) and the number of open
// file descriptors (entries of /proc/PID/fd) of a few processes, about once per interval, on a
// thread of its own; and the summary a soak reports: how far each figure moved after warm-up.
//
//   ProcessProbe probe({{"tracker", tracker_pid}, {"agent0", agent_pid}}, 1s);
//   probe.Start();  ...  probe.Stop();
//   ResourceSummary s = Summarize(probe.samples("tracker"), warm_up_until);
//
// Linux only. A process that has exited simply stops contributing samples.
#ifndef FERRY_BENCH_SOAK_PROCESS_PROBE_H_
#define FERRY_BENCH_SOAK_PROCESS_PROBE_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/status.h"

namespace ferry::soak {

struct ProcessSample {
  double t_s = 0;        // seconds since the probe started
  int64_t rss_kib = 0;   // VmRSS
  int64_t fds = 0;       // open file descriptors
};

// One sample of `pid` now (t_s left 0). Errors: kNotFound when the process is gone or its
// /proc entries cannot be read.
StatusOr<ProcessSample> SampleProcess(pid_t pid);

struct WatchedProcess {
  std::string name;
  pid_t pid = -1;
};

class ProcessProbe {
 public:
  ProcessProbe(std::vector<WatchedProcess> processes, std::chrono::milliseconds interval);
  ~ProcessProbe() { Stop(); }
  ProcessProbe(const ProcessProbe&) = delete;
  ProcessProbe& operator=(const ProcessProbe&) = delete;

  // Takes a first sample at once, then one per interval until Stop(). Start at most once.
  void Start();
  // Takes a last sample and stops (returns within about one /proc read). Idempotent.
  void Stop();
  // Seconds since Start().
  double Elapsed() const;

  const std::vector<WatchedProcess>& processes() const { return processes_; }
  // The samples of process `index` (in the order given). Call after Stop().
  const std::vector<ProcessSample>& samples(size_t index) const { return samples_[index]; }

 private:
  void SampleAll();

  const std::vector<WatchedProcess> processes_;
  const std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point start_;
  std::vector<std::vector<ProcessSample>> samples_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// How one figure (RSS or fds) moved after warm-up. `first` and `last` are medians of the
// first and last `kEdgeSamples` samples after warm-up (one sample taken while a session
// starts or ends must not decide the verdict); growth = last / first - 1.
struct FigureSummary {
  int64_t min = 0, max = 0, first = 0, last = 0;
  double growth = 0;
};

struct ResourceSummary {
  int samples = 0;  // after warm-up
  FigureSummary rss_kib, fds;
};

inline constexpr int kEdgeSamples = 5;

// Summarizes the samples taken at or after `warm_up_until_s` (and before `until_s`).
// nullopt when there are none.
std::optional<ResourceSummary> Summarize(const std::vector<ProcessSample>& samples,
                                         double warm_up_until_s, double until_s);

}  // namespace ferry::soak

#endif  // FERRY_BENCH_SOAK_PROCESS_PROBE_H_
