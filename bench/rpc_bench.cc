// rpc_bench: what a Ferry remote session costs over raw ZeroMQ on the same loopback, with
// every number measured in one run so that the ratios compare like with like.
//
// Set-up (one process, tcp on 127.0.0.1):
//   - a real device agent (ferry::agent::Agent) serves on a thread of this process; the
//     session it opens runs in a session worker process (the ferry-agent executable, as in
//     production), and the client talks to that worker directly;
//   - raw_thread: a ROUTER server on a thread of this process, driven by a DEALER;
//   - raw_process: the same server in a child process forked at start-up, before any ZeroMQ
//     context or thread exists. Like the session worker, its socket lives in another
//     process, so it is the like-for-like baseline;
//   - raw_chunked: raw_process's server fed as Ferry copies are (4 MiB messages, 4 in flight);
//   - ferry_curve: a second agent with a CURVE identity (keys generated in this process,
//     the client's key the only one admitted) and a CURVE session with it, whose copies and
//     upload chunks take the bulk path (AES-256-GCM on a second worker connection);
//     ferry_curve_only: a second session with that agent that keeps everything on CURVE
//     (ConnectOptions::use_bulk_path = false). Both are measured with the plaintext
//     session's cases and compared to it in the "CURVE vs plaintext" summary.
// Cases:
//   call             RemoteSession::GetFunction("ferry.echo") called with no arguments,
//                    against a 32-byte DEALER -> ROUTER -> DEALER ping-pong.
//   to_remote/<N>    remote.CopyFrom(host) of an N-byte array (N = 1, 16, 256 MiB), against
//                    one N-byte message DEALER -> ROUTER (sent zero-copy) and a 1-byte ack.
//   to_host/<N>      host.CopyFrom(remote) into a preallocated host array, and CopyTo(Cpu())
//                    (which allocates), against a 9-byte request and one N-byte reply
//                    ROUTER -> DEALER (sent zero-copy from a prefilled buffer).
//   model/mlp        the zoo mlp (graph executor): set_input, run, get_output and the output's
//                    copy to the host, in the session against the same calls on a local
//                    executor of the same library (target: within 100 us of local);
//                    model/mlp/ferry_sequence makes the same calls as one CallSequence (one
//                    round trip instead of three).
//   upload           UploadBytes of 100 MiB of content the agent has never seen; repeats of an
//                    upload the agent has cached, by Upload(file) (the session remembers the
//                    file's digest) and by UploadBytes, and the two parts of the latter: the
//                    client's SHA-256 of the content and the UploadBegin round trip alone.
// Every benchmark also counts minor page faults per iteration, in this process and in its
// children. Before timing, every path runs once and Ferry's copies are checked byte for byte.
// After the benchmarks, a summary gives each ratio and its target; speed is reported, never
// asserted. See bench/README.md.
//
// The set-up (raw servers and client, agent thread, fault counter, fixture) is in
// rpc_bench_fixture.h/.cc; this file registers the benchmarks and prints the summary.
#include <benchmark/benchmark.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "bench/rpc_bench_fixture.h"
#include "device_agent/sha256.h"
#include "rpc/client_session.h"
#include "rpc/curve_keys.h"
#include "runtime/ndarray.h"
#include "runtime/value.h"

namespace ferry::bench {
namespace {

// Flags applied before the command line's own, which override them.
const char* const kDefaultFlags[] = {
    "--benchmark_min_time=0.05",
    "--benchmark_repetitions=5",
    "--benchmark_enable_random_interleaving=true",
    "--benchmark_display_aggregates_only=true",
};
// Uploads of new content write 100 MiB to the agent's disk each; fewer repetitions suffice.
constexpr int kFreshUploadRepetitions = 3;
constexpr int kCallRepetitions = 15;
// A raw 256 MiB message takes a second or more here (fresh pages on every receive).
constexpr int kLargeCopyRepetitions = 2;

// ---------------------------------------------------------------------------------------------
// Benchmarks. All measure real time and count page faults per iteration ("faults").

using Operation = std::function<Status(benchmark::State&)>;

// Registers `op` as benchmark `name`; `bytes` (when not 0) per iteration gives bytes_per_second.
// `repetitions` (when not 0) overrides --benchmark_repetitions for this benchmark.
benchmark::internal::Benchmark* Register(const std::string& name, benchmark::TimeUnit unit,
                                         size_t bytes, const FaultCounter* faults, Operation op,
                                         int repetitions = 0) {
  benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
      name.c_str(), [bytes, faults, op = std::move(op)](benchmark::State& state) {
        const auto [faults_before, here_before] = faults->Now();
        for (auto _ : state) {
          const Status status = op(state);
          if (!status.ok()) {
            state.SkipWithError(status.ToString().c_str());
            return;
          }
        }
        const auto [faults_after, here_after] = faults->Now();
        state.counters["faults"] = benchmark::Counter(
            static_cast<double>(faults_after - faults_before), benchmark::Counter::kAvgIterations);
        state.counters["faults_here"] = benchmark::Counter(
            static_cast<double>(here_after - here_before), benchmark::Counter::kAvgIterations);
        if (bytes > 0) {
          state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                                  static_cast<int64_t>(bytes));
        }
      });
  b->Unit(unit)->UseRealTime();
  if (repetitions > 0) b->Repetitions(repetitions);
  return b;
}

// The fastest repetition: the one least disturbed by other work on the machine.
double Fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void RegisterAll(Fixture* f, const FaultCounter* faults) {
  // Empty call round trips.
  // Short, so they run more repetitions, and report their fastest one too.
  Register(
      "call/ferry", benchmark::kMicrosecond, 0, faults,
      [f](benchmark::State&) { return f->echo.CallPacked({}).status(); }, kCallRepetitions)
      ->ComputeStatistics("min", Fastest);
  for (const SecureSession& secure : f->secure) {
    PackedFunc echo = secure.echo;
    Register(
        "call/" + secure.name, benchmark::kMicrosecond, 0, faults,
        [echo](benchmark::State&) { return echo.CallPacked({}).status(); }, kCallRepetitions)
        ->ComputeStatistics("min", Fastest);
  }
  for (int r = 0; r < 2; ++r) {
    Register(
        std::string("call/") + kRawNames[r], benchmark::kMicrosecond, 0, faults,
        [f, r](benchmark::State&) { return f->raw[r]->Ping(); }, kCallRepetitions)
        ->ComputeStatistics("min", Fastest);
  }

  // The zoo mlp: set_input, run, get_output and the output's copy to the host, here and in
  // each session.
  Register(
      "model/mlp/local", benchmark::kMicrosecond, 0, faults,
      [f](benchmark::State&) { return RunModel(*f->mlp.local, f->mlp.input); }, kCallRepetitions)
      ->ComputeStatistics("min", Fastest);
  Register(
      "model/mlp/ferry", benchmark::kMicrosecond, 0, faults,
      [f](benchmark::State&) { return RunModel(*f->mlp.remote, f->mlp.input); }, kCallRepetitions)
      ->ComputeStatistics("min", Fastest);
  Register(
      "model/mlp/ferry_sequence", benchmark::kMicrosecond, 0, faults,
      [f](benchmark::State&) {
        return RunModelInOneRoundTrip(*f->remote, *f->mlp.remote, f->mlp.input);
      },
      kCallRepetitions)
      ->ComputeStatistics("min", Fastest);
  for (size_t i = 0; i < f->secure.size(); ++i) {
    Register(
        "model/mlp/" + f->secure[i].name, benchmark::kMicrosecond, 0, faults,
        [f, i](benchmark::State&) { return RunModel(f->mlp.secure[i], f->mlp.input); },
        kCallRepetitions)
        ->ComputeStatistics("min", Fastest);
  }

  // Copies. A raw transfer of the largest size takes a second or more here (see the README), so
  // it runs fewer repetitions.
  for (CopyCase& c : f->copies) {
    CopyCase* p = &c;
    const std::string size = SizeName(c.bytes);
    const int reps = c.bytes >= 256 * kMiB ? kLargeCopyRepetitions : 0;
    const auto add = [&](const std::string& name, Operation op) {
      Register(name, benchmark::kMillisecond, p->bytes, faults, std::move(op), reps);
    };
    add("to_remote/" + size + "/ferry",
        [p](benchmark::State&) { return p->remote.CopyFrom(p->host_src); });
    add("to_host/" + size + "/ferry",
        [p](benchmark::State&) { return p->host_dst.CopyFrom(p->remote); });
    add("to_host/" + size + "/ferry_copyto",
        [p](benchmark::State&) { return p->remote.CopyTo(Device::Cpu()).status(); });
    for (size_t i = 0; i < f->secure.size(); ++i) {
      add("to_remote/" + size + "/" + f->secure[i].name,
          [p, i](benchmark::State&) { return p->secure_remote[i].CopyFrom(p->host_src); });
      add("to_host/" + size + "/" + f->secure[i].name,
          [p, i](benchmark::State&) { return p->host_dst.CopyFrom(p->secure_remote[i]); });
    }
    for (int r = 0; r < 2; ++r) {
      add("to_remote/" + size + "/" + kRawNames[r], [f, p, r](benchmark::State&) {
        return f->raw[r]->Sink(p->host_src.data_as<char>(), p->bytes);
      });
      add("to_host/" + size + "/" + kRawNames[r],
          [f, p, r](benchmark::State&) { return f->raw[r]->Source(p->bytes); });
    }
    add("to_remote/" + size + "/raw_chunked", [f, p](benchmark::State&) {
      return f->raw[1]->SinkChunked(p->host_src.data_as<char>(), p->bytes);
    });
    add("to_host/" + size + "/raw_chunked",
        [f, p](benchmark::State&) { return f->raw[1]->SourceChunked(p->bytes); });
  }

  // Uploads.
  Register(
      "upload/fresh", benchmark::kMillisecond, kUploadBytes, faults,
      [f](benchmark::State& state) {
        state.PauseTiming();
        // New content (so the agent's cache cannot have it) under a new label.
        ++f->fresh_counter;
        std::memcpy(f->fresh_upload.data(), &f->fresh_counter, sizeof(f->fresh_counter));
        const std::string label = "fresh-" + std::to_string(f->fresh_counter) + ".bin";
        state.ResumeTiming();
        return f->remote->UploadBytes(f->fresh_upload, label);
      },
      kFreshUploadRepetitions);
  for (const SecureSession& secure : f->secure) {
    rpc::RemoteSession* session = secure.remote;
    Register(
        "upload/fresh_" + secure.name, benchmark::kMillisecond, kUploadBytes, faults,
        [f, session](benchmark::State& state) {
          state.PauseTiming();
          ++f->fresh_counter;
          std::memcpy(f->fresh_upload.data(), &f->fresh_counter, sizeof(f->fresh_counter));
          const std::string label = "fresh-" + std::to_string(f->fresh_counter) + ".bin";
          state.ResumeTiming();
          return session->UploadBytes(f->fresh_upload, label);
        },
        kFreshUploadRepetitions);
  }
  Register("upload/repeat", benchmark::kMillisecond, 0, faults, [f](benchmark::State&) {
    return f->remote->Upload(f->cached_path, "cached.bin");
  });
  Register("upload/repeat_bytes", benchmark::kMillisecond, 0, faults, [f](benchmark::State&) {
    return f->remote->UploadBytes(f->cached_upload, "cached.bin");
  });
  Register("upload/repeat_sha256", benchmark::kMillisecond, 0, faults, [f](benchmark::State&) {
    benchmark::DoNotOptimize(agent::Sha256Hex(f->cached_upload));
    return Status::Ok();
  });
  Register("upload/repeat_begin", benchmark::kMicrosecond, 0, faults, [f](benchmark::State&) {
    StatusOr<bool> complete =
        UploadBeginOnly(*f->remote, "cached.bin", f->cached_digest, f->cached_upload.size());
    if (complete.ok() && !*complete) return InternalError("the agent lost a cached upload");
    return complete.status();
  });
}

// ---------------------------------------------------------------------------------------------
// Summary.

// The console output as usual, plus each benchmark's real time per iteration in seconds and
// its faults per iteration: the median aggregate when there are repetitions, else the median
// of the runs it saw.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string& name = run.run_name.function_name;
      const double seconds =
          run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      const auto faults = run.counters.find("faults");
      const auto here = run.counters.find("faults_here");
      if (run.run_type == Run::RT_Aggregate) {
        // A percentage aggregate (cv) holds the fraction itself in real_accumulated_time.
        if (run.aggregate_name == "median") {
          medians_[name] = seconds;
          if (faults != run.counters.end()) faults_[name] = faults->second.value;
          if (here != run.counters.end()) faults_here_[name] = here->second.value;
        }
        if (run.aggregate_name == "cv") cvs_[name] = run.real_accumulated_time;
        if (run.aggregate_name == "min") mins_[name] = seconds;
      } else {
        samples_[name].push_back(seconds);
        if (faults != run.counters.end()) fault_samples_[name].push_back(faults->second.value);
        if (here != run.counters.end()) fault_here_samples_[name].push_back(here->second.value);
      }
    }
  }

  // Median seconds per iteration of `name`; nullopt when it did not run.
  std::optional<double> Seconds(const std::string& name) const {
    return Lookup(medians_, samples_, name);
  }
  // Median page faults per iteration of `name` (this process and its children).
  std::optional<double> Faults(const std::string& name) const {
    return Lookup(faults_, fault_samples_, name);
  }
  // The same, in this process alone.
  std::optional<double> FaultsHere(const std::string& name) const {
    return Lookup(faults_here_, fault_here_samples_, name);
  }
  // Seconds per iteration of `name`'s fastest repetition, where it computes "min".
  std::optional<double> Fastest(const std::string& name) const {
    if (auto it = mins_.find(name); it != mins_.end()) return it->second;
    return std::nullopt;
  }
  // Coefficient of variation of `name`'s repetitions (0.05 = 5%).
  std::optional<double> Cv(const std::string& name) const {
    if (auto it = cvs_.find(name); it != cvs_.end()) return it->second;
    return std::nullopt;
  }

 private:
  using Samples = std::map<std::string, std::vector<double>>;
  static std::optional<double> Lookup(const std::map<std::string, double>& medians,
                                      const Samples& samples, const std::string& name) {
    if (auto it = medians.find(name); it != medians.end()) return it->second;
    auto it = samples.find(name);
    if (it == samples.end()) return std::nullopt;
    return Median(it->second);
  }

  std::map<std::string, double> medians_, faults_, faults_here_, cvs_, mins_;
  Samples samples_, fault_samples_, fault_here_samples_;
};

std::optional<double> Ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

std::optional<double> Scale(std::optional<double> v, double factor) {
  if (!v) return std::nullopt;
  return *v * factor;
}

// The largest cv (in percent) among `names`.
std::optional<double> Noise(const RecordingReporter& r, const std::vector<std::string>& names) {
  std::optional<double> noise;
  for (const std::string& name : names) {
    if (std::optional<double> cv = r.Cv(name)) noise = std::max(noise.value_or(0.0), *cv * 100);
  }
  return noise;
}

// "ok" or "MISS" for each ratio, joined by '/'.
std::string Verdicts(std::initializer_list<std::optional<double>> ratios, bool at_most,
                     double target) {
  std::string out;
  for (const std::optional<double>& ratio : ratios) {
    if (!out.empty()) out += "/";
    out += !ratio ? "n/a" : (at_most ? *ratio <= target : *ratio >= target) ? "ok" : "MISS";
  }
  return out;
}

// `sessions`: the names of the Ferry sessions measured, "ferry" first.
// `first_copyto_seconds`: Fixture::first_copyto_seconds.
void PrintSummary(const RecordingReporter& r, const std::vector<std::string>& sessions,
                  const std::vector<double>& first_copyto_seconds) {
  std::printf(
      "\nFerry remote session summary: real time (median over repetitions); every ratio is\n"
      "against a raw ZeroMQ baseline measured in this same run, over tcp on 127.0.0.1.\n"
      "Ferry's remote side is a session worker process (ferry-agent, started by the agent that\n"
      "serves on a thread of this process). raw_thread's server is a thread of this process;\n"
      "raw_process's is a child process, like for like with the worker; raw_chunked is\n"
      "raw_process's server fed the way Ferry copies (4 MiB messages, 4 in flight). noise =\n"
      "the largest coefficient of variation among a row's benchmarks.\n");

  if (std::optional<double> call = r.Seconds("call/ferry")) {
    const std::optional<double> raw_t = r.Seconds("call/raw_thread");
    const std::optional<double> raw_p = r.Seconds("call/raw_process");
    const std::optional<double> rt = Ratio(call, raw_t), rp = Ratio(call, raw_p);
    std::printf("\nempty call round trip (target: ferry / raw <= 1.30)\n");
    std::printf("  %10s %14s %15s %9s %9s %9s %6s\n", "ferry us", "raw_thread us", "raw_process us",
                "/thread", "/process", "target", "noise");
    std::printf(
        "  %10s %14s %15s %9s %9s %9s %5s%%\n", Cell(Scale(call, 1e6), "%.1f").c_str(),
        Cell(Scale(raw_t, 1e6), "%.1f").c_str(), Cell(Scale(raw_p, 1e6), "%.1f").c_str(),
        Cell(rt, "%.3f").c_str(), Cell(rp, "%.3f").c_str(), Verdicts({rt, rp}, true, 1.3).c_str(),
        Cell(Noise(r, {"call/ferry", "call/raw_thread", "call/raw_process"}), "%.1f").c_str());
    const std::optional<double> best = r.Fastest("call/ferry");
    const std::optional<double> best_t = r.Fastest("call/raw_thread");
    const std::optional<double> best_p = r.Fastest("call/raw_process");
    const std::optional<double> bt = Ratio(best, best_t), bp = Ratio(best, best_p);
    std::printf("  %10s %14s %15s %9s %9s %9s  (fastest repetition)\n",
                Cell(Scale(best, 1e6), "%.1f").c_str(), Cell(Scale(best_t, 1e6), "%.1f").c_str(),
                Cell(Scale(best_p, 1e6), "%.1f").c_str(), Cell(bt, "%.3f").c_str(),
                Cell(bp, "%.3f").c_str(), Verdicts({bt, bp}, true, 1.3).c_str());
  }

  if (std::optional<double> local = r.Seconds("model/mlp/local")) {
    std::printf(
        "\nzoo mlp: set_input + run + get_output + copy of the output to the host\n"
        "(target: remote - local <= 100 us; ferry_sequence: the same calls as one CallSequence)\n"
        "  %-18s %10s %10s %12s %9s %6s %12s %12s\n",
        "session", "local us", "remote us", "remote-local", "target", "noise", "fastest loc",
        "fastest rem");
    std::vector<std::string> rows = sessions;
    rows.insert(rows.begin() + 1, "ferry_sequence");
    for (const std::string& session : rows) {
      const std::string name = "model/mlp/" + session;
      const std::optional<double> remote = r.Seconds(name);
      if (!remote) continue;
      const double extra = (*remote - *local) * 1e6;
      std::printf("  %-18s %10s %10s %12.1f %9s %5s%% %12s %12s\n", session.c_str(),
                  Cell(Scale(local, 1e6), "%.1f").c_str(), Cell(Scale(remote, 1e6), "%.1f").c_str(),
                  extra, extra <= 100 ? "ok" : "MISS",
                  Cell(Noise(r, {name, "model/mlp/local"}), "%.1f").c_str(),
                  Cell(Scale(r.Fastest("model/mlp/local"), 1e6), "%.1f").c_str(),
                  Cell(Scale(r.Fastest(name), 1e6), "%.1f").c_str());
    }
  }

  struct Row {
    const char* label;
    const char* prefix;
    const char* ferry;
  };
  const Row rows[] = {{"host->remote CopyFrom", "to_remote/", "ferry"},
                      {"remote->host CopyFrom", "to_host/", "ferry"},
                      {"remote->host CopyTo", "to_host/", "ferry_copyto"}};
  const char* const kBaselines[] = {"raw_thread", "raw_process", "raw_chunked"};
  bool header = false;
  std::string fault_lines;
  for (const Row& row : rows) {
    for (size_t bytes : kCopySizes) {
      const std::string base = row.prefix + SizeName(bytes) + "/";
      const auto gbps = [&](const std::string& name) -> std::optional<double> {
        std::optional<double> s = r.Seconds(name);
        if (!s || *s <= 0) return std::nullopt;
        return static_cast<double>(bytes) / *s / 1e9;
      };
      const std::optional<double> ferry = gbps(base + row.ferry);
      if (!ferry) continue;
      std::optional<double> raw[3], ratio[3];
      std::vector<std::string> names = {base + row.ferry};
      for (int i = 0; i < 3; ++i) {
        raw[i] = gbps(base + kBaselines[i]);
        ratio[i] = Ratio(ferry, raw[i]);
        names.push_back(base + kBaselines[i]);
      }
      if (!header) {
        std::printf(
            "\ncopy bandwidth, GB/s = 1e9 bytes/s (target: ferry / raw >= 0.80)\n"
            "  %-21s %7s %6s %10s %11s %11s %8s %8s %8s %14s %6s\n",
            "direction", "size", "ferry", "raw_thread", "raw_process", "raw_chunked", "/thread",
            "/process", "/chunked", "target", "noise");
        header = true;
      }
      const std::string size = std::to_string(bytes / kMiB) + " MiB";
      std::printf("  %-21s %7s %6s %10s %11s %11s %8s %8s %8s %14s %5s%%\n", row.label,
                  size.c_str(), Cell(ferry, "%.2f").c_str(), Cell(raw[0], "%.2f").c_str(),
                  Cell(raw[1], "%.2f").c_str(), Cell(raw[2], "%.2f").c_str(),
                  Cell(ratio[0], "%.3f").c_str(), Cell(ratio[1], "%.3f").c_str(),
                  Cell(ratio[2], "%.3f").c_str(),
                  Verdicts({ratio[0], ratio[1], ratio[2]}, false, 0.8).c_str(),
                  Cell(Noise(r, names), "%.1f").c_str());
      const double per_mib = 1.0 / static_cast<double>(bytes / kMiB);
      char line[200];
      const std::optional<double> ferry_all = r.Faults(base + row.ferry);
      const std::optional<double> ferry_here = r.FaultsHere(base + row.ferry);
      const std::optional<double> ferry_worker =
          ferry_all && ferry_here ? std::optional<double>(*ferry_all - *ferry_here) : std::nullopt;
      std::snprintf(line, sizeof(line), "  %-21s %7s %8s %8s %8s %10s %11s %11s\n", row.label,
                    size.c_str(), Cell(Scale(ferry_all, per_mib), "%.0f").c_str(),
                    Cell(Scale(ferry_here, per_mib), "%.0f").c_str(),
                    Cell(Scale(ferry_worker, per_mib), "%.0f").c_str(),
                    Cell(Scale(r.Faults(base + kBaselines[0]), per_mib), "%.0f").c_str(),
                    Cell(Scale(r.Faults(base + kBaselines[1]), per_mib), "%.0f").c_str(),
                    Cell(Scale(r.Faults(base + kBaselines[2]), per_mib), "%.0f").c_str());
      fault_lines += line;
    }
  }
  if (!fault_lines.empty()) {
    std::printf(
        "\npage faults per MiB copied (256 = every byte lands on a fresh 4 KiB page); ferry's\n"
        "split into the client's process and the session worker's\n"
        "  %-21s %7s %8s %8s %8s %10s %11s %11s\n%s",
        "direction", "size", "ferry", "client", "worker", "raw_thread", "raw_process",
        "raw_chunked", fault_lines.c_str());
  }
  if (first_copyto_seconds.size() == std::size(kCopySizes)) {
    std::printf(
        "\nremote->host CopyTo, the process's first host array of each size (fresh pages; the\n"
        "timed CopyTo rows reuse memory freed by earlier ones), set-up, one run each:\n");
    for (size_t i = 0; i < std::size(kCopySizes); ++i) {
      std::printf("  %7s %6.2f GB/s\n", (std::to_string(kCopySizes[i] / kMiB) + " MiB").c_str(),
                  static_cast<double>(kCopySizes[i]) / first_copyto_seconds[i] / 1e9);
    }
  }

  const std::optional<double> fresh = r.Seconds("upload/fresh");
  const std::optional<double> repeat = r.Seconds("upload/repeat");
  if (fresh || repeat) {
    std::printf("\nupload of %zu MiB (UploadBytes; target: repeat < 1 ms)\n", kUploadBytes / kMiB);
    std::printf(
        "  new content:                  %10s ms  (%s GB/s: client SHA-256, transfer,\n"
        "                                               agent write + SHA-256 + fsync)\n",
        Cell(Scale(fresh, 1e3), "%.1f").c_str(),
        Cell(fresh ? std::optional<double>(kUploadBytes / *fresh / 1e9) : std::nullopt, "%.2f")
            .c_str());
    const std::optional<double> all = r.Faults("upload/fresh");
    const std::optional<double> here = r.FaultsHere("upload/fresh");
    if (all && here) {
      const double mib = static_cast<double>(kUploadBytes / kMiB);
      std::printf("    page faults per MiB:        client %.0f, worker %.0f\n", *here / mib,
                  (*all - *here) / mib);
    }
    std::printf("  repeat of Upload(file):       %10s ms  target: %s  (stat + one round trip)\n",
                Cell(Scale(repeat, 1e3), "%.3f").c_str(),
                repeat ? (*repeat < 1e-3 ? "ok" : "MISS") : "n/a");
    std::printf("  repeat of UploadBytes:        %10s ms  (hashes the bytes every time)\n",
                Cell(Scale(r.Seconds("upload/repeat_bytes"), 1e3), "%.3f").c_str());
    std::printf("    its client-side SHA-256:    %10s ms\n",
                Cell(Scale(r.Seconds("upload/repeat_sha256"), 1e3), "%.3f").c_str());
    std::printf("    its UploadBegin round trip: %10s ms  (all a cached upload costs the wire)\n",
                Cell(Scale(r.Seconds("upload/repeat_begin"), 1e3), "%.3f").c_str());
  }
}

// Each secure session against the plaintext one, measured in the same run: throughput ratios
// (secure / plaintext, so 0.5 = half the speed) for copies and fresh uploads, and the
// latency ratio of the empty call (secure / plaintext, so 2 = twice as long).
void PrintSecureSummary(const RecordingReporter& r, const std::vector<std::string>& names) {
  if (names.empty()) return;
  std::printf(
      "\nCURVE vs plaintext: each secure session against the plaintext one (\"ferry\"), same\n"
      "run. Copies and uploads: throughput secure / plaintext (target >= 0.80). Empty call:\n"
      "latency secure / plaintext.\n");
  for (const std::string& name : names) {
    std::printf("\n  %s\n", name.c_str());
    const std::optional<double> call = Ratio(r.Seconds("call/" + name), r.Seconds("call/ferry"));
    const std::optional<double> best = Ratio(r.Fastest("call/" + name), r.Fastest("call/ferry"));
    std::printf("    %-30s %8s us vs %8s us  latency ratio %6s (fastest %s)  noise %s%%\n",
                "empty call", Cell(Scale(r.Seconds("call/" + name), 1e6), "%.1f").c_str(),
                Cell(Scale(r.Seconds("call/ferry"), 1e6), "%.1f").c_str(),
                Cell(call, "%.3f").c_str(), Cell(best, "%.3f").c_str(),
                Cell(Noise(r, {"call/" + name, "call/ferry"}), "%.1f").c_str());
    const auto row = [&](const std::string& label, const std::string& secure,
                         const std::string& plain, size_t bytes) {
      const std::optional<double> s = r.Seconds(secure), p = r.Seconds(plain);
      if (!s || !p) return;
      const std::optional<double> ratio = Ratio(p, s);
      std::printf("    %-30s %8s GB/s vs %6s GB/s  throughput ratio %6s %5s  noise %s%%\n",
                  label.c_str(), Cell(std::optional<double>(bytes / *s / 1e9), "%.2f").c_str(),
                  Cell(std::optional<double>(bytes / *p / 1e9), "%.2f").c_str(),
                  Cell(ratio, "%.3f").c_str(), Verdicts({ratio}, false, 0.8).c_str(),
                  Cell(Noise(r, {secure, plain}), "%.1f").c_str());
    };
    for (size_t bytes : kCopySizes) {
      const std::string size = SizeName(bytes);
      row("host->remote CopyFrom " + size, "to_remote/" + size + "/" + name,
          "to_remote/" + size + "/ferry", bytes);
      row("remote->host CopyFrom " + size, "to_host/" + size + "/" + name,
          "to_host/" + size + "/ferry", bytes);
    }
    row("upload of new content " + SizeName(kUploadBytes), "upload/fresh_" + name,
        "upload/fresh", kUploadBytes);
  }
}

int Main(int argc, char** argv) {
  // First, before any thread or ZeroMQ context exists: the raw baseline's server process.
  StatusOr<RawProcessServer> raw_process = RawProcessServer::Start();
  if (!raw_process.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n", raw_process.status().ToString().c_str());
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  if (!InitializeBenchmark(argc, argv, kDefaultFlags)) return 1;
  benchmark::AddCustomContext("transport", "tcp://127.0.0.1, one ZeroMQ context per endpoint");
  benchmark::AddCustomContext("raw_thread_server", "a thread of this process");
  benchmark::AddCustomContext("raw_process_server", "a child process forked at start-up");

  StatusOr<std::unique_ptr<AgentThread>> agent = AgentThread::Start();
  if (!agent.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n", agent.status().ToString().c_str());
    return 1;
  }
  benchmark::AddCustomContext("ferry_session_worker", (*agent)->worker() + " --session-worker");
  // The CURVE agent: keys made here, the client's the only one it admits.
  StatusOr<rpc::CurveKeyPair> agent_keys = rpc::GenerateCurveKeyPair();
  StatusOr<rpc::CurveKeyPair> client_keys = rpc::GenerateCurveKeyPair();
  if (!agent_keys.ok() || !client_keys.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n",
                 (agent_keys.ok() ? client_keys.status() : agent_keys.status()).ToString().c_str());
    return 1;
  }
  StatusOr<std::unique_ptr<AgentThread>> curve_agent =
      AgentThread::Start(*agent_keys, rpc::AuthorizedKeys{{client_keys->public_key, "bench"}});
  if (!curve_agent.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n", curve_agent.status().ToString().c_str());
    return 1;
  }
  rpc::ConnectOptions curve_options;
  curve_options.channel.curve_identity = *client_keys;
  curve_options.channel.curve_server_key = agent_keys->public_key;
  RawThreadServer raw_thread;
  RawClient raw_thread_client(raw_thread.endpoint());
  RawClient raw_process_client(raw_process->endpoint());
  int code = 0;
  {
    StatusOr<rpc::RemoteSession> remote = rpc::Connect((*agent)->endpoint());
    StatusOr<rpc::RemoteSession> curve = rpc::Connect((*curve_agent)->endpoint(), curve_options);
    rpc::ConnectOptions curve_only_options = curve_options;
    curve_only_options.use_bulk_path = false;
    StatusOr<rpc::RemoteSession> curve_only =
        rpc::Connect((*curve_agent)->endpoint(), curve_only_options);
    if (!remote.ok() || !curve.ok() || !curve_only.ok()) {
      const Status failed = !remote.ok() ? remote.status()
                            : !curve.ok() ? curve.status().WithContext("CURVE session")
                                          : curve_only.status().WithContext("CURVE-only session");
      std::fprintf(stderr, "rpc_bench: %s\n", failed.ToString().c_str());
      code = 1;
    } else {
      std::fprintf(stderr, "rpc_bench: preparing arrays and uploads, checking every path...\n");
      Fixture fixture;
      fixture.remote = &*remote;
      fixture.secure.push_back({"ferry_curve", &*curve, PackedFunc()});
      fixture.secure.push_back({"ferry_curve_only", &*curve_only, PackedFunc()});
      fixture.raw[0] = &raw_thread_client;
      fixture.raw[1] = &raw_process_client;
      const auto setup_start = std::chrono::steady_clock::now();
      Status prepared = PrepareFixture(fixture);
      std::fprintf(
          stderr, "rpc_bench: set-up took %.1f s\n",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count());
      if (!prepared.ok()) {
        std::fprintf(stderr, "rpc_bench: %s\n", prepared.ToString().c_str());
        code = 1;
      } else {
        const FaultCounter faults(ChildProcesses());
        RegisterAll(&fixture, &faults);
        RecordingReporter reporter;
        benchmark::RunSpecifiedBenchmarks(&reporter);
        std::vector<std::string> secure_names;
        for (const SecureSession& secure : fixture.secure) secure_names.push_back(secure.name);
        std::vector<std::string> sessions = {"ferry"};
        sessions.insert(sessions.end(), secure_names.begin(), secure_names.end());
        PrintSummary(reporter, sessions, fixture.first_copyto_seconds);
        PrintSecureSummary(reporter, secure_names);
      }
      fixture.copies.clear();
      fixture.mlp.remote.reset();
      fixture.mlp.secure.clear();
      fixture.echo = PackedFunc();
      fixture.secure.clear();
      (void)remote->Close();
      (void)curve->Close();
      (void)curve_only->Close();
    }
  }
  raw_thread_client.Quit();
  raw_process_client.Quit();
  benchmark::Shutdown();
  return code;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) {
  return ferry::bench::RunMain("rpc_bench", ferry::bench::Main, argc, argv);
}
