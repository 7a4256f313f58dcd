// ferry-tracker: hands out device agents to clients by key and priority.
//
//   ferry-tracker --listen tcp://127.0.0.1:9191 --secret-file FILE [--endpoint-file FILE]
//                 [--heartbeat-ms 1000] [--identity FILE --agent-keys FILE --client-keys FILE]
//                 [--insecure]
//
// SIGINT and SIGTERM stop it cleanly (exit 0).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "rpc/curve_keys.h"
#include "rpc/ticket.h"
#include "runtime/file_util.h"
#include "util/malloc_tuning.h"
#include "tracker/tracker_server.h"
#include "util/arg_parser.h"

namespace {

const ferry::util::OptionSpec kOptions[] = {
    {"listen", "", true, "ENDPOINT  where agents and clients connect (tcp://127.0.0.1:9191)"},
    {"secret-file", "", true, "FILE  secret shared with the agents, signs tickets (required)"},
    {"endpoint-file", "", true, "FILE  write the bound endpoint here once listening"},
    {"heartbeat-ms", "", true, "MS  agents' heartbeat interval; 3 missed = gone (1000)"},
    {"identity", "", true,
     "FILE  the tracker's CURVE secret key (default ~/.config/ferry/identity if it exists)"},
    {"agent-keys", "", true, "FILE  authorized keys of the agents (required with an identity)"},
    {"client-keys", "", true, "FILE  authorized keys of the clients (required with an identity)"},
    {"insecure", "", false, "allow a non-loopback listen address without authentication"},
    {"help", "h", false, "show this help"},
};

ferry::Status Run(int argc, char** argv, const std::atomic<bool>& stop) {
  std::vector<std::string> args(argv + 1, argv + argc);
  ASSIGN_OR_RETURN(ferry::util::ParsedArgs parsed, ferry::util::ParseArgs(args, kOptions));
  if (parsed.Has("help")) {
    std::cout << "usage: ferry-tracker --secret-file FILE [options]\n\noptions:\n"
              << ferry::util::FormatOptions(kOptions);
    return ferry::Status::Ok();
  }
  ferry::tracker::TrackerConfig config;
  config.listen = parsed.Get("listen").value_or(config.listen);
  config.insecure = parsed.Has("insecure");
  auto secret_file = parsed.Get("secret-file");
  if (!secret_file) return ferry::InvalidArgumentError("--secret-file is required");
  ASSIGN_OR_RETURN(config.secret, ferry::rpc::LoadSecretFile(*secret_file));
  if (auto ms = parsed.Get("heartbeat-ms")) {
    int value = 0;
    try {
      value = std::stoi(*ms);
    } catch (const std::exception&) {
    }
    if (value <= 0) return ferry::InvalidArgumentError("--heartbeat-ms must be positive");
    config.scheduler.heartbeat_interval = std::chrono::milliseconds(value);
  }
  ASSIGN_OR_RETURN(config.identity, ferry::rpc::ResolveCurveIdentity(parsed.Get("identity")));
  if (config.identity) {
    auto agent_keys = parsed.Get("agent-keys");
    auto client_keys = parsed.Get("client-keys");
    if (!agent_keys || !client_keys) {
      return ferry::InvalidArgumentError(
          "a tracker with an identity needs --agent-keys and --client-keys");
    }
    ASSIGN_OR_RETURN(config.agent_keys, ferry::rpc::LoadAuthorizedKeys(*agent_keys));
    ASSIGN_OR_RETURN(config.client_keys, ferry::rpc::LoadAuthorizedKeys(*client_keys));
  } else if (parsed.Has("agent-keys") || parsed.Has("client-keys")) {
    return ferry::InvalidArgumentError("--agent-keys and --client-keys need --identity");
  }
  ASSIGN_OR_RETURN(auto server, ferry::tracker::TrackerServer::Create(config));
  if (server->curve()) {
    std::cout << "ferry-tracker: CURVE on, " << config.agent_keys.size() << " agent keys, "
              << config.client_keys.size() << " client keys\n";
  } else {
    std::cout << "ferry-tracker: plaintext" << (config.insecure ? " (--insecure)" : " (loopback)")
              << "\n";
  }
  std::cout << "ferry-tracker listening on " << server->endpoint() << std::endl;
  if (auto file = parsed.Get("endpoint-file")) {
    RETURN_IF_ERROR(ferry::WriteFileAtomically(*file, server->endpoint() + "\n"));
  }
  RETURN_IF_ERROR(server->Serve(stop));
  std::cout << "ferry-tracker: stopped" << std::endl;
  return ferry::Status::Ok();
}

std::atomic<bool> g_stop{false};  // set on SIGINT/SIGTERM; nothing else is global

void OnStopSignal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  ferry::util::TuneMallocForServer();  // before any thread starts
  // SIGINT and SIGTERM are blocked in every thread main starts (ZeroMQ's and the ZAP
  // handler's inherit the mask) and taken by one thread with sigwait, so no system call of
  // theirs is ever interrupted. A thread a library started before main (OpenBLAS's, where it
  // is linked) has them unblocked: the handler, with SA_RESTART, makes a signal delivered
  // there stop the tracker too, instead of the default action killing it.
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    g_stop.store(true);
  }).detach();
  try {
    const ferry::Status status = Run(argc, argv, g_stop);
    if (!status.ok()) {
      std::cerr << "ferry-tracker: error: " << status.message() << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "ferry-tracker: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
