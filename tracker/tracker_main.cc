// ferry-tracker: hands out device agents to clients by key and priority.
//
//   ferry-tracker --listen tcp://127.0.0.1:9191 --secret-file FILE [--endpoint-file FILE]
//                 [--heartbeat-ms 1000] [--insecure]
#include <signal.h>

#include <atomic>
#include <iostream>

#include "rpc/ticket.h"
#include "runtime/file_util.h"
#include "tracker/tracker_server.h"
#include "util/arg_parser.h"

namespace {

std::atomic<bool> g_stop{false};  // set by the signal handler; nothing else is global

void OnSignal(int) { g_stop.store(true); }

const ferry::util::OptionSpec kOptions[] = {
    {"listen", "", true, "ENDPOINT  where agents and clients connect (tcp://127.0.0.1:9191)"},
    {"secret-file", "", true, "FILE  secret shared with the agents, signs tickets (required)"},
    {"endpoint-file", "", true, "FILE  write the bound endpoint here once listening"},
    {"heartbeat-ms", "", true, "MS  agents' heartbeat interval; 3 missed = gone (1000)"},
    {"insecure", "", false, "allow a non-loopback listen address without authentication"},
    {"help", "h", false, "show this help"},
};

ferry::Status Run(int argc, char** argv) {
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
  ASSIGN_OR_RETURN(auto server, ferry::tracker::TrackerServer::Create(config));
  std::cout << "ferry-tracker listening on " << server->endpoint() << std::endl;
  if (auto file = parsed.Get("endpoint-file")) {
    RETURN_IF_ERROR(ferry::WriteFileAtomically(*file, server->endpoint() + "\n"));
  }
  return server->Serve(g_stop);
}

}  // namespace

int main(int argc, char** argv) {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  try {
    const ferry::Status status = Run(argc, argv);
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
