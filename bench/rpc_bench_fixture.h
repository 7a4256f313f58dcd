// rpc_bench_fixture.h: what rpc_bench measures against and with (see rpc_bench.cc for the
// benchmarks and the summary):
//   - the raw ZeroMQ baseline: RawThreadServer (a ROUTER on a thread of this process),
//     RawProcessServer (the same server in a forked child) and RawClient (a DEALER);
//   - AgentThread: a real device agent serving on a thread of this process (plaintext, or
//     CURVE with keys generated in the process);
//   - FaultCounter: minor page faults in this process and its children;
//   - Fixture and PrepareFixture: the arrays and uploads the benchmarks use, built and
//     checked before any timing.
#ifndef FERRY_BENCH_RPC_BENCH_FIXTURE_H_
#define FERRY_BENCH_RPC_BENCH_FIXTURE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "compiler/subprocess.h"
#include "device_agent/agent.h"
#include "rpc/client_session.h"
#include "rpc/curve_keys.h"
#include "runtime/executor_module.h"
#include "runtime/ndarray.h"
#include "runtime/value.h"

namespace ferry::bench {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kPingBytes = 32;
constexpr size_t kCopySizes[] = {1 * kMiB, 16 * kMiB, 256 * kMiB};
constexpr size_t kUploadBytes = 100 * kMiB;
constexpr int kRawTimeoutMs = 60000;

inline std::string SizeName(size_t bytes) { return std::to_string(bytes / kMiB) + "MiB"; }

// ---------------------------------------------------------------------------------------------
// The raw ZeroMQ baseline: a ROUTER server and a DEALER client, nothing else.
//
// Requests (the frames after the ROUTER's identity frame) and replies:
//   one frame of kPingBytes starting 'p'   -> the same frame back (ping-pong)
//   'r', then one payload frame            -> a 1-byte ack once the payload is in (sink)
//   'g' + uint64 size (9 bytes)            -> one frame of `size` bytes, sent zero-copy from a
//                                             buffer filled before serving (source)
//   'q'                                    -> 'q', then the server returns

// The raw server on a thread of this process, with a ZeroMQ context of its own (as the
// session worker has its own).
class RawThreadServer {
 public:
  RawThreadServer();
  // Stops the server (if no quit request did) and joins its thread.
  ~RawThreadServer();
  const std::string& endpoint() const { return endpoint_; }

 private:
  zmq::context_t context_{1};
  std::vector<char> source_;
  std::string endpoint_;
  std::thread thread_;
};

// The raw server in a child process. Start() must run before this process creates any thread
// or ZeroMQ context: the child is a fork of it.
class RawProcessServer {
 public:
  static StatusOr<RawProcessServer> Start();

  RawProcessServer(RawProcessServer&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), endpoint_(std::move(other.endpoint_)) {}
  // The owner sends a quit request first; this reaps the child (killing it if it lingers).
  ~RawProcessServer();
  const std::string& endpoint() const { return endpoint_; }

 private:
  RawProcessServer(pid_t pid, std::string endpoint) : pid_(pid), endpoint_(std::move(endpoint)) {}
  pid_t pid_;
  std::string endpoint_;
};

// A DEALER on a context of its own (as a Ferry client's session has), connected to a raw
// server. Receives time out after kRawTimeoutMs, so a dead server is an error, not a hang.
class RawClient {
 public:
  explicit RawClient(const std::string& endpoint);

  Status Ping();
  // Sends `size` bytes from `data` without copying them; returns once the server has them.
  Status Sink(const char* data, size_t size);
  // Asks for `size` bytes and receives them (into ZeroMQ's own buffer, as a message).
  Status Source(size_t size);
  // Sink and Source cut into kChunkBytes messages with kCopyWindow requests outstanding, as
  // Ferry's copies are: raw ZeroMQ streaming with the same pipelining.
  Status SinkChunked(const char* data, size_t size);
  Status SourceChunked(size_t size);
  void Quit();

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  char ping_[kPingBytes];
};

// ---------------------------------------------------------------------------------------------
// The Ferry side: an agent on a thread of this process and one session with it.

class AgentThread {
 public:
  // The session worker is FERRY_AGENT_PATH (the ferry-agent executable), or what
  // FERRY_BENCH_WORKER names. With `identity` the agent and its workers run CURVE and admit
  // only `client_keys`.
  static StatusOr<std::unique_ptr<AgentThread>> Start(
      std::optional<rpc::CurveKeyPair> identity = std::nullopt,
      rpc::AuthorizedKeys client_keys = {});
  ~AgentThread();

  const std::string& endpoint() const { return agent_->endpoint(); }
  const std::string& worker() const { return worker_; }

 private:
  AgentThread(std::unique_ptr<agent::Agent> agent, std::string work_dir, std::string worker)
      : agent_(std::move(agent)), work_dir_(std::move(work_dir)), worker_(std::move(worker)) {}
  std::unique_ptr<agent::Agent> agent_;
  std::string work_dir_;
  std::string worker_;
  std::atomic<bool> stop_{false};
  Status status_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Page faults: on small virtual machines a minor fault can cost several microseconds, so a
// transfer that touches fresh memory for every message runs at a fraction of the speed of
// one that reuses its buffers. Each benchmark reports faults per iteration, counted in this
// process (all its threads) and in its child processes (the session worker, the raw server).

// This process's children (found through /proc, as the agent starts the worker).
std::vector<pid_t> ChildProcesses();

class FaultCounter {
 public:
  explicit FaultCounter(std::vector<pid_t> children) : children_(std::move(children)) {}
  // Faults so far in this process and its children, and in this process alone.
  std::pair<uint64_t, uint64_t> Now() const;

 private:
  std::vector<pid_t> children_;
};

// ---------------------------------------------------------------------------------------------
// The fixture.

struct CopyCase {
  size_t bytes;
  NDArray host_src;  // filled with a pattern
  NDArray host_dst;  // preallocated, pages touched
  NDArray remote;    // on the session's remote CPU
  // The same array in each of Fixture::secure's sessions, in their order.
  std::vector<NDArray> secure_remote;
};

// A further session measured like the plaintext one, e.g. "ferry_curve": a CURVE session.
struct SecureSession {
  std::string name;  // the benchmark name suffix
  rpc::RemoteSession* remote = nullptr;
  PackedFunc echo;
};

// The zoo mlp (graph executor): one library, run here and in each session, with the same
// input. RunModel is what the model benchmarks time.
struct ModelCase {
  std::optional<compiler::TempDir> dir;  // holds the library
  NDArray input;                         // float32[1, 784]
  std::optional<ExecutorModule> local;
  std::optional<ExecutorModule> remote;  // in the plaintext session
  std::vector<ExecutorModule> secure;    // in each of Fixture::secure's sessions, in order
};

// set_input("data", input), run, get_output(0) and its copy to a host array (a local copy
// for a local executor).
Status RunModel(const ExecutorModule& executor, const NDArray& input);
// The same calls made as one CallSequence of `session` (one round trip; the output comes
// inline, so its copy to the host costs none).
Status RunModelInOneRoundTrip(rpc::RemoteSession& session, const ExecutorModule& executor,
                              const NDArray& input);

// Everything the benchmarks use; built (and checked) before any timing.
struct Fixture {
  rpc::RemoteSession* remote = nullptr;
  PackedFunc echo;
  std::vector<SecureSession> secure;
  std::vector<CopyCase> copies;
  // Seconds of the process's first CopyTo(Cpu()) of each copy size, in kCopySizes' order.
  std::vector<double> first_copyto_seconds;
  ModelCase mlp;
  RawClient* raw[2] = {nullptr, nullptr};  // thread, process
  std::string fresh_upload;                // its first 8 bytes change before each upload
  uint64_t fresh_counter = 0;
  std::string cached_upload;  // uploaded once at set-up
  std::string cached_digest;
  std::string cached_path;  // cached_upload as a file, for RemoteSession::Upload

  ~Fixture() {
    if (!cached_path.empty()) std::remove(cached_path.c_str());
  }
};

constexpr const char* kRawNames[] = {"raw_thread", "raw_process"};

// UploadBegin alone: whether the agent already has the content of `digest`.
StatusOr<bool> UploadBeginOnly(rpc::RemoteSession& remote, const std::string& label,
                               const std::string& digest, size_t size);

// Prepares the arrays and uploads, and runs every path once: each Ferry copy is checked byte
// for byte in every session (and CopyTo(Cpu()) in the plaintext one, timed into
// first_copyto_seconds), each raw exchange for its sizes, and an upload of new content through each secure session. Builds
// the zoo mlp (a few seconds of the system C++ compiler), loads it here and in every session,
// and checks that each remote run's output equals the local one bit for bit.
Status PrepareFixture(Fixture& f);

}  // namespace ferry::bench

#endif  // FERRY_BENCH_RPC_BENCH_FIXTURE_H_
