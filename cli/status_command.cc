#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/security_options.h"
#include "rpc/tracker_client.h"
#include "util/arg_parser.h"

namespace ferry::cli {
namespace {

using util::OptionSpec;

std::vector<OptionSpec> Options() {
  std::vector<OptionSpec> specs = {
      {"tracker", "", true, "ENDPOINT  the tracker to ask (tcp://HOST:PORT)"},
      {"json", "", false, "print JSON for scripts instead of a table"},
      {"timeout", "", true, "SECONDS  deadline of the request (default: 60)"},
      {"help", "h", false, "show this help"},
  };
  for (OptionSpec& spec : SecurityOptionSpecs()) {
    if (spec.name != "server-key") specs.push_back(std::move(spec));
  }
  return specs;
}

// A client as the table shows it: a CURVE key by its fingerprint, a connection name as is.
std::string ClientName(const std::string& client_id) {
  return rpc::IsZ85Key(client_id) ? "key " + rpc::KeyFingerprint(client_id)
                                  : client_id.substr(0, 21);
}

constexpr const char* kUsage =
    "usage: ferry status --tracker tcp://HOST:PORT [--json] [--identity FILE --tracker-key KEY]\n\n"
    "Shows the tracker's agents per key (address, devices, tags, free or busy and for whom,\n"
    "since when) and the queued requests with their priorities.\n\noptions:\n";

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Devices(const rpc::TrackerAgentStatus& a) {
  std::string out;
  for (const auto& d : a.devices) {
    if (!out.empty()) out += ", ";
    out += d.type + " x" + std::to_string(d.count);
    if (d.memory > 0) out += " " + std::to_string(d.memory >> 20) + " MiB";
  }
  return out.empty() ? "-" : out;
}

std::string Tags(const std::map<std::string, std::string>& tags) {
  std::string out;
  for (const auto& [name, value] : tags) out += (out.empty() ? "" : ",") + name + "=" + value;
  return out.empty() ? "-" : out;
}

std::string Seconds(int64_t ms) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1fs", static_cast<double>(ms) / 1000.0);
  return buffer;
}

void PrintJson(const rpc::TrackerStatus& status, std::ostream& out) {
  out << "{\"agents\": [";
  for (size_t i = 0; i < status.agents.size(); ++i) {
    const auto& a = status.agents[i];
    out << (i ? ", " : "") << "{\"agent_id\": " << JsonString(a.agent_id)
        << ", \"key\": " << JsonString(a.key) << ", \"address\": " << JsonString(a.address)
        << ", \"devices\": [";
    for (size_t d = 0; d < a.devices.size(); ++d) {
      out << (d ? ", " : "") << "{\"type\": " << JsonString(a.devices[d].type)
          << ", \"count\": " << a.devices[d].count << ", \"memory\": " << a.devices[d].memory
          << ", \"name\": " << JsonString(a.devices[d].name) << "}";
    }
    out << "], \"tags\": {";
    size_t t = 0;
    for (const auto& [name, value] : a.tags) {
      out << (t++ ? ", " : "") << JsonString(name) << ": " << JsonString(value);
    }
    out << "}, \"busy\": " << (a.busy ? "true" : "false")
        << ", \"client\": " << JsonString(a.client_id) << ", \"lease\": " << a.lease_id
        << ", \"since_ms\": " << a.since_ms << ", \"last_heartbeat_ms\": " << a.last_heartbeat_ms
        << "}";
  }
  out << "], \"queue\": [";
  for (size_t i = 0; i < status.queue.size(); ++i) {
    const auto& q = status.queue[i];
    out << (i ? ", " : "") << "{\"request\": " << q.request_id
        << ", \"client\": " << JsonString(q.client_id) << ", \"key\": " << JsonString(q.key)
        << ", \"priority\": " << q.priority << ", \"waited_ms\": " << q.waited_ms
        << ", \"expires_in_ms\": " << q.expires_in_ms << "}";
  }
  out << "]}\n";
}

void PrintTable(const rpc::TrackerStatus& status, std::ostream& out) {
  std::map<std::string, std::vector<const rpc::TrackerAgentStatus*>> by_key;
  for (const auto& a : status.agents) by_key[a.key].push_back(&a);
  std::map<std::string, std::vector<const rpc::TrackerQueueEntry*>> queued;
  for (const auto& q : status.queue) {
    queued[q.key].push_back(&q);
    by_key[q.key];  // keys with requests but no agents show too
  }
  if (by_key.empty()) out << "no agents registered and no requests queued\n";
  for (const auto& [key, agents] : by_key) {
    out << "key " << key << ": " << agents.size() << " agent(s), " << queued[key].size()
        << " queued request(s)\n";
    char line[512];
    if (!agents.empty()) {
      std::snprintf(line, sizeof(line), "  %-16s %-26s %-24s %-20s %s\n", "AGENT", "ADDRESS",
                    "DEVICES", "TAGS", "STATE");
      out << line;
    }
    for (const auto* a : agents) {
      const std::string state = a->busy ? "busy (client " + ClientName(a->client_id) + ", lease " +
                                              std::to_string(a->lease_id) + ") for " +
                                              Seconds(a->since_ms)
                                        : "free for " + Seconds(a->since_ms);
      std::snprintf(line, sizeof(line), "  %-16s %-26s %-24s %-20s %s\n", a->agent_id.c_str(),
                    a->address.c_str(), Devices(*a).c_str(), Tags(a->tags).c_str(), state.c_str());
      out << line;
    }
    for (const auto* q : queued[key]) {
      std::snprintf(line, sizeof(line),
                    "  queued: request %llu, priority %d, client %s, waiting %s, expires in %s\n",
                    static_cast<unsigned long long>(q->request_id), q->priority,
                    ClientName(q->client_id).c_str(), Seconds(q->waited_ms).c_str(),
                    Seconds(q->expires_in_ms).c_str());
      out << line;
    }
  }
}

}  // namespace

void PrintTrackerStatus(const rpc::TrackerStatus& status, bool json, std::ostream& out) {
  if (json) {
    PrintJson(status, out);
  } else {
    PrintTable(status, out);
  }
}

Status StatusCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, Options(), kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  auto tracker = parsed.Get("tracker");
  if (!tracker) return InvalidArgumentError("missing --tracker ENDPOINT");
  rpc::ConnectOptions options;
  ASSIGN_OR_RETURN(options.timeout, ParseTimeout(parsed.Get("timeout")));
  ASSIGN_OR_RETURN(SecurityOptions security, ParseSecurityOptions(parsed));
  ASSIGN_OR_RETURN(options, security.ForTracker(std::move(options)));
  ASSIGN_OR_RETURN(rpc::TrackerClient client, rpc::ConnectTracker(*tracker, options));
  ASSIGN_OR_RETURN(rpc::TrackerStatus status, client.GetStatus());
  PrintTrackerStatus(status, parsed.Has("json"), out);
  return Status::Ok();
}

}  // namespace ferry::cli
