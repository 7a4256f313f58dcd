// ferry-agent: serves model libraries and calls to clients on this machine.
//
//   ferry-agent --listen tcp://127.0.0.1:9190 [--work-dir DIR] [--session-timeout SECONDS]
//               [--max-sessions N] [--threads N] [--endpoint-file FILE] [--insecure]
//               [--identity FILE --authorized-keys FILE]
//               [--tracker ENDPOINT --key KEY --secret-file FILE [--tracker-key KEY|FILE]
//                [--tag NAME=VALUE ...]]
//
// Port '*' or 0 picks a free port; the bound endpoint is printed ("listening on ...") and,
// with --endpoint-file, written to FILE. SIGINT/SIGTERM stop it, ending every session.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "util/arg_parser.h"
#include "device_agent/agent.h"
#include "device_agent/worker_process.h"
#include "rpc/curve_keys.h"
#include "rpc/ticket.h"
#include "runtime/file_util.h"
#include "runtime/kernel_threads.h"
#include "util/malloc_tuning.h"

namespace {

std::atomic<bool> g_stop{false};  // set by the signal handler; nothing else is global

void OnSignal(int) { g_stop.store(true); }

const ferry::util::OptionSpec kOptions[] = {
    {"listen", "", true, "ENDPOINT  where clients connect (default tcp://127.0.0.1:9190)"},
    {"work-dir", "", true, "DIR  upload cache and session directories (default: a new temp dir)"},
    {"session-timeout", "", true, "SECONDS  end a session after this long without a request (300)"},
    {"max-sessions", "", true, "N  concurrent sessions (64)"},
    {"threads", "", true,
     "N  kernel threads of each session worker (default: FERRY_NUM_THREADS, else the CPU "
     "count)"},
    {"endpoint-file", "", true, "FILE  write the bound endpoint here once listening"},
    {"insecure", "", false, "allow plaintext on a non-loopback listen address"},
    {"identity", "", true, "FILE  this agent's CURVE secret key (default ~/.config/ferry/identity)"},
    {"authorized-keys", "", true,
     "FILE  client public keys admitted (default ~/.config/ferry/authorized_keys)"},
    {"tracker-key", "", true, "KEY|FILE  the tracker's CURVE public key (with --identity)"},
    {"hello-timeout", "", true, "SECONDS  end a session whose client has not said Hello (10)"},
    {"cache-max-bytes", "", true, "BYTES  upload cache size limit, LRU eviction (unlimited)"},
    {"session-disk-quota", "", true, "BYTES  files one session may store (unlimited)"},
    {"worker-max-memory", "", true, "BYTES  address space of each session worker (unlimited)"},
    {"tracker", "", true, "ENDPOINT  register with the tracker at ENDPOINT"},
    {"key", "", true, "KEY  the device key to register under (with --tracker)"},
    {"tag", "", true, "NAME=VALUE  a tag clients may ask for; repeatable (with --tracker)"},
    {"secret-file", "", true, "FILE  secret shared with the tracker (with --tracker)"},
    {"advertise", "", true, "ENDPOINT  address clients reach this agent at (default: bound)"},
    {"heartbeat-ms", "", true, "MS  heartbeat interval (1000)"},
    {"help", "h", false, "show this help"},
};

ferry::StatusOr<int64_t> PositiveNumber(const std::string& text, const char* flag) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return static_cast<int64_t>(v);
  } catch (const std::exception&) {
  }
  return ferry::InvalidArgumentError(std::string(flag) + " needs a positive integer");
}

// ~/.config/ferry/authorized_keys when it exists.
std::optional<std::string> DefaultAuthorizedKeysPath() {
  const char* home = std::getenv("HOME");
  if (home == nullptr) return std::nullopt;
  const std::string path = std::string(home) + "/.config/ferry/authorized_keys";
  std::error_code ec;
  return std::filesystem::exists(path, ec) ? std::optional<std::string>(path) : std::nullopt;
}

ferry::Status Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  ASSIGN_OR_RETURN(ferry::util::ParsedArgs parsed, ferry::util::ParseArgs(args, kOptions));
  if (parsed.Has("help")) {
    std::cout << "usage: ferry-agent [options]\n\nServes Ferry sessions: each client gets a worker "
                 "process of its own.\n\noptions:\n"
              << ferry::util::FormatOptions(kOptions);
    return ferry::Status::Ok();
  }
  if (!parsed.positional().empty()) {
    return ferry::InvalidArgumentError("unexpected argument '" + parsed.positional()[0] + "'");
  }
  ferry::agent::AgentConfig config;
  config.listen = parsed.Get("listen").value_or(config.listen);
  config.insecure = parsed.Has("insecure");
  if (auto v = parsed.Get("session-timeout")) {
    ASSIGN_OR_RETURN(int64_t seconds, PositiveNumber(*v, "--session-timeout"));
    config.session_timeout = std::chrono::seconds(seconds);
  }
  if (auto v = parsed.Get("hello-timeout")) {
    ASSIGN_OR_RETURN(int64_t seconds, PositiveNumber(*v, "--hello-timeout"));
    config.hello_timeout = std::chrono::seconds(seconds);
  }
  if (auto v = parsed.Get("cache-max-bytes")) {
    ASSIGN_OR_RETURN(int64_t bytes, PositiveNumber(*v, "--cache-max-bytes"));
    config.cache_max_bytes = static_cast<uint64_t>(bytes);
  }
  if (auto v = parsed.Get("session-disk-quota")) {
    ASSIGN_OR_RETURN(int64_t bytes, PositiveNumber(*v, "--session-disk-quota"));
    config.session_quota_bytes = static_cast<uint64_t>(bytes);
  }
  if (auto v = parsed.Get("worker-max-memory")) {
    ASSIGN_OR_RETURN(int64_t bytes, PositiveNumber(*v, "--worker-max-memory"));
    config.worker_max_address_space = static_cast<uint64_t>(bytes);
  }
  ASSIGN_OR_RETURN(config.identity, ferry::rpc::ResolveCurveIdentity(parsed.Get("identity")));
  if (config.identity) {
    std::optional<std::string> keys = parsed.Get("authorized-keys");
    if (!keys) keys = DefaultAuthorizedKeysPath();
    if (!keys) return ferry::InvalidArgumentError("an agent with an identity needs --authorized-keys");
    ASSIGN_OR_RETURN(config.client_keys, ferry::rpc::LoadAuthorizedKeys(*keys));
    if (auto tracker_key = parsed.Get("tracker-key")) {
      ASSIGN_OR_RETURN(config.tracker_key, ferry::rpc::LoadCurvePublicKey(*tracker_key));
    }
  } else if (parsed.Has("authorized-keys") || parsed.Has("tracker-key")) {
    return ferry::InvalidArgumentError("--authorized-keys and --tracker-key need --identity");
  }
  if (auto v = parsed.Get("max-sessions")) {
    ASSIGN_OR_RETURN(int64_t n, PositiveNumber(*v, "--max-sessions"));
    config.max_sessions = static_cast<int>(n);
  }
  if (auto v = parsed.Get("threads")) {
    ASSIGN_OR_RETURN(config.worker_threads, ferry::ParseKernelThreads(*v, "--threads"));
  } else {
    ASSIGN_OR_RETURN(config.worker_threads, ferry::DefaultKernelThreads());
  }
  if (auto tracker = parsed.Get("tracker")) {
    config.tracker = *tracker;
    config.key = parsed.Get("key").value_or("");
    if (config.key.empty()) return ferry::InvalidArgumentError("--tracker needs --key");
    auto secret_file = parsed.Get("secret-file");
    if (!secret_file) return ferry::InvalidArgumentError("--tracker needs --secret-file");
    ASSIGN_OR_RETURN(config.secret, ferry::rpc::LoadSecretFile(*secret_file));
    for (const std::string& tag : parsed.All("tag")) {
      const size_t eq = tag.find('=');
      if (eq == std::string::npos || eq == 0) {
        return ferry::InvalidArgumentError("--tag expects NAME=VALUE, got '" + tag + "'");
      }
      config.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
    }
    config.advertise = parsed.Get("advertise").value_or("");
    if (auto ms = parsed.Get("heartbeat-ms")) {
      ASSIGN_OR_RETURN(int64_t value, PositiveNumber(*ms, "--heartbeat-ms"));
      config.heartbeat_interval = std::chrono::milliseconds(value);
    }
  } else if (parsed.Has("key") || parsed.Has("tag") || parsed.Has("secret-file")) {
    return ferry::InvalidArgumentError("--key, --tag and --secret-file need --tracker");
  }
  bool temporary_work_dir = false;
  if (auto dir = parsed.Get("work-dir")) {
    config.work_dir = *dir;
  } else {
    std::string pattern = "/tmp/ferry-agent-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return ferry::UnavailableError("cannot create a work directory");
    config.work_dir = pattern;
    temporary_work_dir = true;
  }
  std::error_code ec;
  config.worker_executable = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return ferry::InternalError("cannot find this executable: " + ec.message());

  ASSIGN_OR_RETURN(std::unique_ptr<ferry::agent::Agent> agent,
                   ferry::agent::Agent::Create(config));
  std::cout << "ferry-agent listening on " << agent->endpoint()
            << (config.identity ? " (CURVE: encrypted, " + std::to_string(config.client_keys.size()) +
                                      " client keys admitted)"
                                : " (plaintext)")
            << std::endl;
  if (auto file = parsed.Get("endpoint-file")) {
    RETURN_IF_ERROR(ferry::WriteFileAtomically(*file, agent->endpoint() + "\n"));
  }
  ferry::Status status = agent->Serve(g_stop);
  agent.reset();
  if (temporary_work_dir) std::filesystem::remove_all(config.work_dir, ec);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--session-worker") {
    ferry::StatusOr<ferry::agent::WorkerConfig> config =
        ferry::agent::ParseWorkerArgs(argc - 2, argv + 2);
    if (!config.ok()) {
      std::cerr << "ferry-agent worker: error: " << config.status().message() << "\n";
      return 2;
    }
    if (config->kernel_threads > 0) {
      if (ferry::Status s = ferry::SetKernelThreads(config->kernel_threads); !s.ok()) {
        std::cerr << "ferry-agent worker: error: " << s.message() << "\n";
        return 2;
      }
    }
    return ferry::agent::RunSessionWorker(*config);
  }
  // The daemon only (its workers allocate tensors), before any thread starts. Per session a
  // client connection comes and goes; see util/malloc_tuning.h.
  ferry::util::TuneMallocForServer();
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    const ferry::Status status = Run(argc, argv);
    if (!status.ok()) {
      std::cerr << "ferry-agent: error: " << status.message() << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "ferry-agent: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
