// The one-minute soak (issue 10, item 5): the harness of bench/soak at a tenth of its scale.
// A real ferry-tracker carries 100 simulated agents and 2 real ferry-agents; 10 clients do
// sessions through it for up to 60 s (upload, load, run, compare with a local run; and a
// simulated grant released at once). Nothing may be lost, fail or be granted twice. Memory
// and open files are printed; on a shared machine they are held only to a generous bound
// (growth after warm-up under 50%); bench/soak holds the ten-minute run to 10%.
#include <gtest/gtest.h>

#include <cstdio>

#include "bench/soak/soak_harness.h"
#include "tests/sanitizer_test_util.h"

#if !defined(FERRY_TRACKER_PATH) || !defined(FERRY_AGENT_PATH)
#error "FERRY_TRACKER_PATH and FERRY_AGENT_PATH must name the binaries"
#endif

namespace ferry::soak {
namespace {

using namespace std::chrono_literals;

using testing::kUnderSanitizer;

TEST(SoakTest, OneMinuteSoakLosesNothing) {
  SoakOptions options;
  options.tracker_path = FERRY_TRACKER_PATH;
  options.agent_path = FERRY_AGENT_PATH;
  options.duration = 60s;
  options.clients = 10;
  options.sessions_per_client = 100;  // more than 60 s allows: the duration ends the run
  options.simulated_agents = 100;
  options.simulated_keys = 4;
  options.real_agents = 2;
  options.request_timeout = 30s;
  options.max_growth = 0.5;
  options.progress_every = 15s;

  StatusOr<SoakReport> report = RunSoak(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  PrintSoakReport(options, *report, stdout);
  std::fflush(stdout);

  EXPECT_GT(report->sessions_done, 0);
  EXPECT_GT(report->simulated_done, 0);
  EXPECT_EQ(report->lost, 0);
  EXPECT_EQ(report->failed, 0);
  EXPECT_EQ(report->duplicates, 0);
  EXPECT_EQ(report->unaccounted_sessions, 0);
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  for (const ProcessReport& p : report->processes) {
    ASSERT_TRUE(p.sampled) << p.name << " has no samples after warm-up";
    // A sanitizer's quarantine keeps freed memory for a while: RSS is no measure there.
    if (!kUnderSanitizer) {
      EXPECT_LT(p.summary.rss_kib.growth, options.max_growth) << p.name << " RSS";
    }
    EXPECT_LT(p.summary.fds.growth, options.max_growth) << p.name << " open files";
  }
}

}  // namespace
}  // namespace ferry::soak
