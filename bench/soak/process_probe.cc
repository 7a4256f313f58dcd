#include "bench/soak/process_probe.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ferry::soak {

StatusOr<ProcessSample> SampleProcess(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream status(dir + "/status");
  if (!status) return NotFoundError("no process " + std::to_string(pid));
  ProcessSample sample;
  bool found = false;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream(line.substr(6)) >> sample.rss_kib;
      found = true;
      break;
    }
  }
  if (!found) return NotFoundError("process " + std::to_string(pid) + " has no VmRSS (a zombie)");
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++sample.fds;
  }
  if (ec) return NotFoundError("cannot list " + dir + "/fd: " + ec.message());
  return sample;
}

ProcessProbe::ProcessProbe(std::vector<WatchedProcess> processes,
                           std::chrono::milliseconds interval)
    : processes_(std::move(processes)), interval_(interval), samples_(processes_.size()) {}

void ProcessProbe::Start() {
  start_ = std::chrono::steady_clock::now();
  SampleAll();
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    auto next = start_ + interval_;
    while (!stop_) {
      if (wake_.wait_until(lock, next, [this] { return stop_; })) break;
      lock.unlock();
      SampleAll();
      lock.lock();
      next += interval_;
    }
  });
}

void ProcessProbe::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    SampleAll();
  }
}

double ProcessProbe::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProcessProbe::SampleAll() {
  const double t = Elapsed();
  for (size_t i = 0; i < processes_.size(); ++i) {
    StatusOr<ProcessSample> sample = SampleProcess(processes_[i].pid);
    if (!sample.ok()) continue;
    sample->t_s = t;
    samples_[i].push_back(*sample);
  }
}

namespace {

int64_t Median(std::vector<int64_t> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

FigureSummary SummarizeFigure(const std::vector<int64_t>& values) {
  FigureSummary s;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  const size_t edge = std::min<size_t>(kEdgeSamples, values.size());
  s.first = Median({values.begin(), values.begin() + static_cast<ptrdiff_t>(edge)});
  s.last = Median({values.end() - static_cast<ptrdiff_t>(edge), values.end()});
  s.growth = s.first > 0 ? static_cast<double>(s.last) / static_cast<double>(s.first) - 1 : 0;
  return s;
}

}  // namespace

std::optional<ResourceSummary> Summarize(const std::vector<ProcessSample>& samples,
                                         double warm_up_until_s, double until_s) {
  std::vector<int64_t> rss, fds;
  for (const ProcessSample& s : samples) {
    if (s.t_s < warm_up_until_s || s.t_s > until_s) continue;
    rss.push_back(s.rss_kib);
    fds.push_back(s.fds);
  }
  if (rss.empty()) return std::nullopt;
  ResourceSummary summary;
  summary.samples = static_cast<int>(rss.size());
  summary.rss_kib = SummarizeFigure(rss);
  summary.fds = SummarizeFigure(fds);
  return summary;
}

}  // namespace ferry::soak
