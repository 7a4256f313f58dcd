#include "tests/netns_test_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <sstream>
#include <utility>

#include "compiler/subprocess.h"
#include "tests/process_test_util.h"

namespace ferry::testing {
namespace {

std::string FindIp() { return FindProgram("ip", "/usr/sbin:/sbin:/usr/bin:/bin"); }

}  // namespace

std::string NetnsNetwork::Unsupported() {
  if (FindIp().empty()) return "iproute2's `ip` is not installed";
  if (geteuid() != 0) {
    return "creating network namespaces needs root (or CAP_NET_ADMIN); euid " +
           std::to_string(geteuid());
  }
  return "";
}

StatusOr<std::unique_ptr<NetnsNetwork>> NetnsNetwork::Create(NetnsSpec spec) {
  if (std::string why = Unsupported(); !why.empty()) return UnavailableError(why);
  if (spec.link == NetnsLink::kVethPair && spec.hosts.size() != 2) {
    return InvalidArgumentError("a veth pair joins exactly two hosts");
  }
  std::unique_ptr<NetnsNetwork> network(new NetnsNetwork(std::move(spec)));
  RETURN_IF_ERROR(network->Build());  // on error, the destructor deletes what was made
  return network;
}

NetnsNetwork::NetnsNetwork(NetnsSpec spec) : spec_(std::move(spec)), ip_(FindIp()) {
  const std::string pid = std::to_string(getpid());
  subnet_ = spec_.subnet + "." + std::to_string(getpid() % 250 + 1) + ".";
  for (const std::string& host : spec_.hosts) names_[host] = spec_.prefix + "-" + pid + "-" + host;
}

NetnsNetwork::~NetnsNetwork() {
  const Status closed = Close();
  if (!closed.ok()) ADD_FAILURE() << closed.ToString();
}

Status NetnsNetwork::Build() {
  if (spec_.link == NetnsLink::kVethPair) {
    for (const std::string& host : spec_.hosts) {
      RETURN_IF_ERROR(CreateNamespace(names_[host], /*first=*/host == spec_.hosts.front()));
    }
    const std::string& a = names_[spec_.hosts[0]];
    const std::string& b = names_[spec_.hosts[1]];
    RETURN_IF_ERROR(
        Must({"-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b}));
  } else {
    // The switch: a bridge in a namespace of its own.
    const std::string sw = spec_.prefix + "-" + std::to_string(getpid()) + "-sw";
    RETURN_IF_ERROR(CreateNamespace(sw, /*first=*/true));
    std::string out;
    if (Ip({"-n", sw, "link", "add", "br0", "type", "bridge"}, &out) != 0) {
      return UnavailableError("cannot create a bridge in a namespace: " + out);
    }
    RETURN_IF_ERROR(Must({"-n", sw, "link", "set", "br0", "up"}));
    int port = 1;
    for (const std::string& host : spec_.hosts) {
      const std::string& ns = names_[host];
      const std::string p = "p" + std::to_string(port++);
      RETURN_IF_ERROR(CreateNamespace(ns, /*first=*/false));
      RETURN_IF_ERROR(
          Must({"-n", sw, "link", "add", p, "type", "veth", "peer", "name", "eth0", "netns", ns}));
      RETURN_IF_ERROR(Must({"-n", sw, "link", "set", p, "master", "br0"}));
      RETURN_IF_ERROR(Must({"-n", sw, "link", "set", p, "up"}));
    }
  }
  for (const std::string& host : spec_.hosts) {
    RETURN_IF_ERROR(
        Must({"-n", names_[host], "addr", "add", Address(host) + "/24", "dev", "eth0"}));
    RETURN_IF_ERROR(Must({"-n", names_[host], "link", "set", "eth0", "up"}));
  }
  return Status::Ok();
}

// Creates namespace `name` with lo up. The first namespace failing means this machine cannot
// make them (kUnavailable); a later one is a test failure.
Status NetnsNetwork::CreateNamespace(const std::string& name, bool first) {
  std::string out;
  Ip({"netns", "del", name}, &out);  // a stale one of a killed run with this pid
  if (Ip({"netns", "add", name}, &out) != 0) {
    const std::string why = "cannot create a network namespace (needs root / CAP_NET_ADMIN): ";
    return first ? UnavailableError(why + out) : InternalError(why + out);
  }
  created_.push_back(name);
  return Must({"-n", name, "link", "set", "lo", "up"});
}

Status NetnsNetwork::Must(const std::vector<std::string>& args) {
  std::string out;
  if (Ip(args, &out) == 0) return Status::Ok();
  std::string command = "ip";
  for (const std::string& arg : args) command += " " + arg;
  return InternalError(command + ": " + out);
}

Status NetnsNetwork::Close() {
  std::string failed;
  std::string out;
  for (const std::string& ns : created_) {
    // Whatever still runs in our namespaces was started by this test.
    if (Ip({"netns", "pids", ns}, &out) == 0) {
      std::istringstream pids(out);
      for (long pid; pids >> pid;) {
        if (pid > 0) kill(static_cast<pid_t>(pid), SIGKILL);
      }
    }
    if (Ip({"netns", "del", ns}, &out) != 0) failed += "cannot delete " + ns + ": " + out + "\n";
  }
  created_.clear();
  return failed.empty() ? Status::Ok() : InternalError(failed);
}

std::string NetnsNetwork::Address(const std::string& host) const {
  for (size_t i = 0; i < spec_.hosts.size(); ++i) {
    if (spec_.hosts[i] == host) return subnet_ + std::to_string(i + 1);
  }
  ADD_FAILURE() << "no host " << host;
  return "";
}

const std::string& NetnsNetwork::Name(const std::string& host) const { return names_.at(host); }

std::string NetnsNetwork::NetnsPath(const std::string& host) const {
  const std::string path = "/run/netns/" + Name(host);
  return access(path.c_str(), F_OK) == 0 ? path : "/var/run/netns/" + Name(host);
}

int NetnsNetwork::Ip(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> all = {ip_};
  all.insert(all.end(), args.begin(), args.end());
  const std::string log = spec_.work_dir + "/ip_" + std::to_string(calls_++) + ".out";
  StatusOr<compiler::ProcessResult> result =
      compiler::RunProcess(all, log, std::chrono::seconds(10));
  if (!result.ok()) {
    *out = result.status().ToString();
    return -1;
  }
  *out = result->output;
  return result->signalled ? -1 : result->exit_code;
}

pid_t NetnsNetwork::Spawn(const std::string& host, std::vector<std::string> args,
                          const std::string& log) {
  return SpawnLogged(std::move(args), log, NetnsPath(host));
}

int NetnsNetwork::RunIn(const std::string& host, const std::function<int()>& body,
                        std::chrono::milliseconds timeout) {
  const std::string ns = NetnsPath(host);
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
    _exit(body());
  }
  return WaitExitCode(pid, timeout);
}

void CreateNetnsOrSkip(NetnsSpec spec, std::unique_ptr<NetnsNetwork>* network) {
  network->reset();
  StatusOr<std::unique_ptr<NetnsNetwork>> created = NetnsNetwork::Create(std::move(spec));
  if (created.status().code() == StatusCode::kUnavailable) {
    GTEST_SKIP() << created.status().message();
  }
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  *network = *std::move(created);
}

}  // namespace ferry::testing
