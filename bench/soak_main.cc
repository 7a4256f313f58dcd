// soak: issue 10's soak (item 5) at full scale. 1,000 simulated agents and 4 real ferry-agents
// under one real ferry-tracker, 100 clients doing 100 sessions each through it (real uploads,
// runs checked against a local run), for at most 10 minutes. Exit status 0 when nothing was
// lost, failed or granted twice and the tracker's and agents' memory and open files stayed
// flat (within 10%) after warm-up; 1 otherwise. The harness is bench/soak/soak_harness.h;
// tests/soak_test.cc runs it for one minute. See bench/README.md, "soak".
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "bench/soak/soak_harness.h"
#include "util/arg_parser.h"

#if !defined(FERRY_TRACKER_PATH) || !defined(FERRY_AGENT_PATH)
#error "FERRY_TRACKER_PATH and FERRY_AGENT_PATH must name the binaries"
#endif

namespace ferry::soak {
namespace {

const util::OptionSpec kOptions[] = {
    {"duration-s", "", true, "S  stop starting sessions after S seconds (600)"},
    {"clients", "", true, "N  client threads (100)"},
    {"sessions", "", true, "N  sessions per client (100)"},
    {"simulated-agents", "", true, "N  agents simulated by signed heartbeats (1000)"},
    {"simulated-keys", "", true, "N  keys the simulated agents are spread over (10)"},
    {"simulated-grants", "", true, "N  simulated grants per session, released at once (1)"},
    {"real-agents", "", true, "N  ferry-agent processes (4)"},
    {"heartbeat-ms", "", true, "MS  heartbeat interval of the tracker and all agents (500)"},
    {"request-timeout-s", "", true, "S  how long a request may wait for a free agent (60)"},
    {"reconnect-every", "", true, "N  a client reconnects to the tracker every N sessions (10)"},
    {"blob-bytes", "", true, "N  bytes of the unique upload of each session (16384)"},
    {"warm-up", "", true, "F  share of the run before resources are judged (0.2)"},
    {"max-growth", "", true, "F  largest RSS / fd growth after warm-up that is flat (0.10)"},
    {"keep-dir", "", false, "keep the directory with the logs even when the soak passes"},
    {"tracker", "", true, "PATH  the ferry-tracker binary (the one built with this program)"},
    {"agent", "", true, "PATH  the ferry-agent binary (the one built with this program)"},
    {"tracker-wrapper", "", true,
     "CMD  start the tracker under CMD (words split on spaces; an absolute path first), e.g. "
     "'/usr/bin/env MALLOC_ARENA_MAX=2'"},
    {"agent-wrapper", "", true, "CMD  start each agent under CMD, as --tracker-wrapper"},
    {"help", "h", false, "show this help"},
};

// "a b  c" -> {"a", "b", "c"}.
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

StatusOr<double> Number(const util::ParsedArgs& args, const std::string& name, double fallback,
                        double min) {
  const std::optional<std::string> text = args.Get(name);
  if (!text) return fallback;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text->size() || value < min) {
    return InvalidArgumentError("--" + name + " needs a number >= " + std::to_string(min));
  }
  return value;
}

Status ParseOptions(int argc, char** argv, SoakOptions* o, bool* help) {
  std::vector<std::string> argv_strings(argv + 1, argv + argc);
  ASSIGN_OR_RETURN(util::ParsedArgs args, util::ParseArgs(argv_strings, kOptions));
  if (!args.positional().empty()) return InvalidArgumentError("unexpected " + args.positional()[0]);
  *help = args.Has("help");
  ASSIGN_OR_RETURN(double duration, Number(args, "duration-s", 600, 1));
  ASSIGN_OR_RETURN(double clients, Number(args, "clients", 100, 1));
  ASSIGN_OR_RETURN(double sessions, Number(args, "sessions", 100, 1));
  ASSIGN_OR_RETURN(double simulated, Number(args, "simulated-agents", 1000, 0));
  ASSIGN_OR_RETURN(double keys, Number(args, "simulated-keys", 10, 1));
  ASSIGN_OR_RETURN(double grants, Number(args, "simulated-grants", 1, 0));
  ASSIGN_OR_RETURN(double real, Number(args, "real-agents", 4, 1));
  ASSIGN_OR_RETURN(double heartbeat, Number(args, "heartbeat-ms", 500, 10));
  ASSIGN_OR_RETURN(double timeout, Number(args, "request-timeout-s", 60, 1));
  ASSIGN_OR_RETURN(double reconnect, Number(args, "reconnect-every", 10, 0));
  ASSIGN_OR_RETURN(double blob, Number(args, "blob-bytes", 16384, 0));
  ASSIGN_OR_RETURN(o->warm_up_fraction, Number(args, "warm-up", 0.2, 0));
  ASSIGN_OR_RETURN(o->max_growth, Number(args, "max-growth", 0.10, 0));
  o->duration = std::chrono::seconds(static_cast<int64_t>(duration));
  o->clients = static_cast<int>(clients);
  o->sessions_per_client = static_cast<int>(sessions);
  o->simulated_agents = static_cast<int>(simulated);
  o->simulated_keys = static_cast<int>(keys);
  o->simulated_grants_per_session = static_cast<int>(grants);
  o->real_agents = static_cast<int>(real);
  o->heartbeat = std::chrono::milliseconds(static_cast<int64_t>(heartbeat));
  o->request_timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  o->reconnect_every = static_cast<int>(reconnect);
  o->blob_bytes = static_cast<size_t>(blob);
  o->keep_dir = args.Has("keep-dir");
  o->tracker_path = args.Get("tracker").value_or(FERRY_TRACKER_PATH);
  o->agent_path = args.Get("agent").value_or(FERRY_AGENT_PATH);
  o->tracker_wrapper = Words(args.Get("tracker-wrapper").value_or(""));
  o->agent_wrapper = Words(args.Get("agent-wrapper").value_or(""));
  if (o->warm_up_fraction >= 1) return InvalidArgumentError("--warm-up must be below 1");
  return Status::Ok();
}

int Main(int argc, char** argv) {
  SoakOptions options;
  bool help = false;
  if (Status s = ParseOptions(argc, argv, &options, &help); !s.ok()) {
    std::fprintf(stderr, "soak: %s\n", s.ToString().c_str());
    return 2;
  }
  if (help) {
    std::cout << "usage: soak [options]\n\noptions:\n" << util::FormatOptions(kOptions);
    return 0;
  }
  StatusOr<SoakReport> report = RunSoak(options);
  if (!report.ok()) {
    std::fprintf(stderr, "soak: set-up failed: %s\n", report.status().ToString().c_str());
    return 1;
  }
  PrintSoakReport(options, *report, stdout);
  return SoakPassed(options, *report) ? 0 : 1;
}

}  // namespace
}  // namespace ferry::soak

int main(int argc, char** argv) {
  return ferry::bench::RunMain("soak", ferry::soak::Main, argc, argv);
}
