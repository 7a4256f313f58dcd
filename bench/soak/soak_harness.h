// The soak of issue 10 (item 5): a real ferry-tracker carrying a fleet of simulated agents
// (signed heartbeats) and a few real ferry-agents, and many client threads each doing many
// sessions through the tracker: request the real agents' key, upload, load, run, compare the
// output with a local run, close; and request a simulated agent's key, release the grant at
// once. It counts every request or session that did not complete (lost), checks grants for
// duplicates (GrantLedger, the agents' logs), and samples the tracker's and the real agents'
// memory and open files (ProcessProbe).
//
//   SoakOptions options;  options.tracker_path = ...;  options.agent_path = ...;
//   StatusOr<SoakReport> report = RunSoak(options);
//   PrintSoakReport(options, *report, stdout);  return SoakPassed(options, *report) ? 0 : 1;
//
// bench/soak_main.cc runs it at the scale (10 minutes); tests/soak_test.cc runs a
// one-minute version. See bench/README.md, "soak".
#ifndef FERRY_BENCH_SOAK_SOAK_HARNESS_H_
#define FERRY_BENCH_SOAK_SOAK_HARNESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/soak/process_probe.h"
#include "runtime/status.h"

namespace ferry::soak {

struct SoakOptions {
  std::string tracker_path, agent_path;  // the binaries
  // Commands the daemons are started under (ClusterOptions::tracker_wrapper), e.g.
  // {"/usr/bin/env", "MALLOC_ARENA_MAX=1"}; empty: none.
  std::vector<std::string> tracker_wrapper, agent_wrapper;
  // The run stops at whichever comes first: every client's sessions done, or this long
  // (then no new session starts; those under way finish).
  std::chrono::seconds duration{600};
  int clients = 100;
  int sessions_per_client = 100;
  int simulated_agents = 1000;
  int simulated_keys = 10;
  int real_agents = 4;
  // Simulated grants (request -> grant -> release) a client makes after each session.
  int simulated_grants_per_session = 1;
  std::chrono::milliseconds heartbeat{500};
  // How long a request may wait for a free agent (the tracker's queue timeout).
  std::chrono::milliseconds request_timeout{60000};
  // A client reconnects to the tracker after this many sessions (0: never).
  int reconnect_every = 10;
  size_t blob_bytes = 16 << 10;  // the unique upload of each session
  double warm_up_fraction = 0.2;
  std::chrono::milliseconds sample_interval{1000};
  // Flat: after warm-up, a last/first growth of RSS and fds at most this.
  double max_growth = 0.10;
  // Progress lines on stderr this often (0: none).
  std::chrono::seconds progress_every{10};
  // Keep the directory with the logs (it is printed); else it is removed.
  bool keep_dir = false;
};

struct ProcessReport {
  std::string name;
  bool sampled = false;  // false: no sample after warm-up
  ResourceSummary summary;
};

struct SoakReport {
  int64_t sessions_planned = 0, sessions_done = 0;
  int64_t simulated_planned = 0, simulated_done = 0;
  double load_seconds = 0;       // from the first request to the last client's end
  // Until the first client finished or the time limit passed: resources are judged up to here.
  double full_load_seconds = 0;
  bool stopped_by_duration = false;
  // Lost: a request that got neither a grant nor a clear error within its deadline (no
  // answer, a late answer, the tracker unreachable), or a session whose agent stopped
  // answering. Failed: a request or session that ended in a clear error, or a wrong output.
  int64_t lost = 0, failed = 0;
  std::vector<std::string> failures;  // each with its status (the first 100 of them)
  int64_t duplicates = 0;
  std::vector<std::string> duplicate_details;
  int64_t leases_audited = 0;    // lease ids checked for uniqueness
  int64_t agent_sessions_opened = 0;  // per the real agents' logs
  int64_t unaccounted_sessions = 0;   // client sessions not in exactly one agent log
  std::vector<std::string> problems;  // processes that died, sessions left open, busy agents
  double warm_up_until_s = 0;
  std::vector<ProcessReport> processes;
  std::string dir;  // where the logs were (removed unless keep_dir)
};

// Runs the soak. Errors only for a set-up that failed (libraries, processes, registration);
// everything measured is in the report.
StatusOr<SoakReport> RunSoak(const SoakOptions& options);

// The summary table.
void PrintSoakReport(const SoakOptions& options, const SoakReport& report, std::FILE* out);

// Nothing lost, failed or duplicated, no problems, and every RSS and fd growth within max_growth.
bool SoakPassed(const SoakOptions& options, const SoakReport& report);

}  // namespace ferry::soak

#endif  // FERRY_BENCH_SOAK_SOAK_HARNESS_H_
