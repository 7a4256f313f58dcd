// Network namespaces for tests that need real hosts without a loopback shortcut: a
// NetnsNetwork creates its namespaces (through iproute2's `ip`), joins them, starts processes
// inside them, and on destruction kills whatever still runs there and deletes them. Namespace
// names carry the test's pid (PREFIX-PID-HOST), and so does the subnet's third octet, so
// concurrent runs do not clash. Needs root (or CAP_NET_ADMIN) and `ip`; CreateNetnsOrSkip
// skips the test with the reason otherwise. Every `ip` call and every wait is bounded.
#ifndef FERRY_TESTS_NETNS_TEST_UTIL_H_
#define FERRY_TESTS_NETNS_TEST_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/status.h"

namespace ferry::testing {

// How the hosts of a NetnsNetwork are joined.
enum class NetnsLink {
  // Exactly two hosts, eth0 in one a veth pair with eth0 in the other.
  kVethPair,
  // Any number of hosts, each with eth0 a veth pair with port pN (N = 1, 2, ...) on bridge
  // br0 in a namespace of its own (named PREFIX-PID-sw).
  kBridge,
};

struct NetnsSpec {
  std::string prefix;              // namespace names: PREFIX-PID-HOST
  std::string subnet;              // two octets ("10.77"); the third one varies with the pid
  std::vector<std::string> hosts;  // host i gets SUBNET.X.(i+1)/24 on its eth0
  NetnsLink link = NetnsLink::kBridge;
  std::string work_dir;  // where `ip`'s output goes (an existing directory)
};

class NetnsNetwork {
 public:
  // Why this machine cannot run a NetnsNetwork ("" when it may): no iproute2 `ip`, not root.
  static std::string Unsupported();

  // Creates the namespaces of `spec`, each with lo and eth0 up, deleting stale ones of a
  // killed run with the same pid first. Errors: kUnavailable with the reason when this
  // machine cannot make namespaces (see Unsupported) or, for kBridge, a bridge;
  // kInvalidArgument for a kVethPair of other than two hosts; kInternal with `ip`'s output
  // when a later step fails. What was made is deleted on error.
  static StatusOr<std::unique_ptr<NetnsNetwork>> Create(NetnsSpec spec);

  NetnsNetwork(const NetnsNetwork&) = delete;
  NetnsNetwork& operator=(const NetnsNetwork&) = delete;
  // Close(); a failure there fails the running test.
  ~NetnsNetwork();

  // Kills (SIGKILL) whatever still runs in the namespaces, then deletes them. Errors:
  // kInternal naming those it could not delete. A second call does nothing.
  Status Close();

  // Host `host`'s address (no prefix length), its namespace's name and its path for setns.
  std::string Address(const std::string& host) const;
  const std::string& Name(const std::string& host) const;
  std::string NetnsPath(const std::string& host) const;

  // Runs `ip args...` with a 10 s limit; returns its exit code (-1 when it could not run or
  // timed out) and its output in `*out`.
  int Ip(const std::vector<std::string>& args, std::string* out);

  // Starts `args` (args[0] a path) inside `host` with stdout and stderr appended to `log`, as
  // SpawnLogged does. Returns the pid, -1 when fork failed.
  pid_t Spawn(const std::string& host, std::vector<std::string> args, const std::string& log);

  // Runs `body` in a forked child inside `host` and waits up to `timeout`. Returns body's
  // result as the child's exit code; -1 when the child was killed or timed out (it is then
  // killed); 126 when it could not enter the namespace.
  int RunIn(const std::string& host, const std::function<int()>& body,
            std::chrono::milliseconds timeout);

 private:
  explicit NetnsNetwork(NetnsSpec spec);
  Status Build();
  Status CreateNamespace(const std::string& name, bool first);
  Status Must(const std::vector<std::string>& args);

  NetnsSpec spec_;
  std::string ip_;
  std::string subnet_;                        // "A.B.X."
  std::map<std::string, std::string> names_;  // host -> namespace name
  std::vector<std::string> created_;          // namespaces to delete
  int calls_ = 0;
};

// Create for a test's SetUp, into `*network`: skips the test with the reason when this
// machine cannot make namespaces (kUnavailable), fails it on any other error; `*network` is
// then null.
void CreateNetnsOrSkip(NetnsSpec spec, std::unique_ptr<NetnsNetwork>* network);

}  // namespace ferry::testing

#endif  // FERRY_TESTS_NETNS_TEST_UTIL_H_
