// rpc_bench: what a Ferry remote session costs over raw ZeroMQ on the same loopback, with
// every number measured in one run so that the ratios compare like with like.
//
// Set-up (one process, tcp on 127.0.0.1):
//   - a real device agent (ferry::agent::Agent) serves on a thread of this process; the
//     session it opens runs in a session worker process (the ferry-agent executable, as in
//     production), and the client talks to that worker directly;
//   - raw_thread: a ROUTER server on a thread of this process, driven by a DEALER;
//   - raw_process: the same server in a child process forked at start-up, before any ZeroMQ
//     context or thread exists. Like the session worker, its socket lives in another
//     process, so it is the like-for-like baseline;
//   - raw_chunked: raw_process's server fed as Ferry copies are (4 MiB messages, 4 in flight).
// Cases:
//   call             RemoteSession::GetFunction("ferry.echo") called with no arguments,
//                    against a 32-byte DEALER -> ROUTER -> DEALER ping-pong.
//   to_remote/<N>    remote.CopyFrom(host) of an N-byte array (N = 1, 16, 256 MiB), against
//                    one N-byte message DEALER -> ROUTER (sent zero-copy) and a 1-byte ack.
//   to_host/<N>      host.CopyFrom(remote) into a preallocated host array, and CopyTo(Cpu())
//                    (which allocates), against a 9-byte request and one N-byte reply
//                    ROUTER -> DEALER (sent zero-copy from a prefilled buffer).
//   upload           UploadBytes of 100 MiB of content the agent has never seen; repeats of an
//                    upload the agent has cached, by Upload(file) (the session remembers the
//                    file's digest) and by UploadBytes, and the two parts of the latter: the
//                    client's SHA-256 of the content and the UploadBegin round trip alone.
// Every benchmark also counts minor page faults per iteration, in this process and in its
// children. Before timing, every path runs once and Ferry's copies are checked byte for byte.
// After the benchmarks, a summary gives each ratio and its target; speed is reported, never
// asserted. See bench/README.md.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "device_agent/agent.h"
#include "device_agent/sha256.h"
#include "rpc/client_session.h"
#include "runtime/file_util.h"
#include "rpc/message.h"
#include "runtime/ndarray.h"
#include "runtime/value.h"

#ifndef FERRY_AGENT_PATH
#error "FERRY_AGENT_PATH must name the ferry-agent executable (bench/CMakeLists.txt sets it)"
#endif

namespace ferry::bench {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kPingBytes = 32;
constexpr size_t kCopySizes[] = {1 * kMiB, 16 * kMiB, 256 * kMiB};
constexpr size_t kUploadBytes = 100 * kMiB;
constexpr int kRawTimeoutMs = 60000;
// Flags applied before the command line's own, which override them.
const char* const kDefaultFlags[] = {
    "--benchmark_min_time=0.05",
    "--benchmark_repetitions=5",
    "--benchmark_enable_random_interleaving=true",
    "--benchmark_display_aggregates_only=true",
};
// Uploads of new content write 100 MiB to the agent's disk each; fewer repetitions suffice.
constexpr int kFreshUploadRepetitions = 3;
constexpr int kCallRepetitions = 15;
// A raw 256 MiB message takes a second or more here (fresh pages on every receive).
constexpr int kLargeCopyRepetitions = 2;

std::string SizeName(size_t bytes) { return std::to_string(bytes / kMiB) + "MiB"; }

// ---------------------------------------------------------------------------------------------
// The raw ZeroMQ baseline: a ROUTER server and a DEALER client, nothing else.
//
// Requests (the frames after the ROUTER's identity frame) and replies:
//   one frame of kPingBytes starting 'p'   -> the same frame back (ping-pong)
//   'r', then one payload frame            -> a 1-byte ack once the payload is in (sink)
//   'g' + uint64 size (9 bytes)            -> one frame of `size` bytes, sent zero-copy from a
//                                             buffer filled before serving (source)
//   'q'                                    -> 'q', then the server returns

constexpr char kPing = 'p', kSink = 'r', kSource = 'g', kQuit = 'q';

void NoFree(void*, void*) {}

// Serves `router` until a quit request. `source` backs the source replies.
void ServeRaw(zmq::socket_t& router, const std::vector<char>& source) {
  while (true) {
    zmq::message_t identity, head;
    if (!router.recv(identity) || !identity.more() || !router.recv(head)) continue;
    bool more = head.more();
    while (more) {
      zmq::message_t part;
      (void)router.recv(part);
      more = part.more();
    }
    const char kind = head.size() > 0 ? head.data<char>()[0] : '\0';
    router.send(identity, zmq::send_flags::sndmore);
    if (kind == kPing) {
      router.send(head, zmq::send_flags::none);
    } else if (kind == kSink) {
      router.send(zmq::str_buffer("a"), zmq::send_flags::none);
    } else if (kind == kSource && head.size() == 9) {
      uint64_t size;
      std::memcpy(&size, head.data<char>() + 1, sizeof(size));
      size = std::min<uint64_t>(size, source.size());
      router.send(zmq::message_t(const_cast<char*>(source.data()), size, NoFree, nullptr),
                  zmq::send_flags::none);
    } else if (kind == kQuit) {
      router.send(zmq::str_buffer("q"), zmq::send_flags::none);
      return;
    } else {
      router.send(zmq::str_buffer("?"), zmq::send_flags::none);
    }
  }
}

// A source buffer of the largest copy size, every page touched.
std::vector<char> MakeSource() {
  return std::vector<char>(kCopySizes[std::size(kCopySizes) - 1], '\x5a');
}

// Binds a ROUTER on an ephemeral loopback port of `context`; returns it and its endpoint.
std::pair<zmq::socket_t, std::string> BindRawRouter(zmq::context_t& context) {
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  return {std::move(router), std::move(endpoint)};
}

// The raw server on a thread of this process, with a ZeroMQ context of its own (as the
// session worker has its own).
class RawThreadServer {
 public:
  RawThreadServer() : source_(MakeSource()) {
    auto [router, endpoint] = BindRawRouter(context_);
    endpoint_ = endpoint;
    thread_ = std::thread([this, socket = std::move(router)]() mutable {
      try {
        ServeRaw(socket, source_);
      } catch (const zmq::error_t& e) {
        if (e.num() != ETERM) std::fprintf(stderr, "rpc_bench: raw thread server: %s\n", e.what());
      }
    });
  }
  // Stops the server (if no quit request did) and joins its thread.
  ~RawThreadServer() {
    context_.shutdown();  // a blocked receive then fails with ETERM
    if (thread_.joinable()) thread_.join();
  }
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
  static StatusOr<RawProcessServer> Start() {
    int fds[2];
    if (::pipe(fds) != 0) return UnavailableError("pipe failed");
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) return UnavailableError("fork failed");
    if (pid == 0) {
      ::close(fds[0]);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int code = 0;
      try {
        std::vector<char> source = MakeSource();
        zmq::context_t context(1);
        auto [router, endpoint] = BindRawRouter(context);
        endpoint += "\n";
        if (::write(fds[1], endpoint.data(), endpoint.size()) !=
            static_cast<ssize_t>(endpoint.size())) {
          ::_exit(1);
        }
        ::close(fds[1]);
        ServeRaw(router, source);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rpc_bench: raw process server: %s\n", e.what());
        code = 1;
      }
      ::_exit(code);
    }
    ::close(fds[1]);
    std::string endpoint;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') endpoint += c;
    ::close(fds[0]);
    if (endpoint.empty()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return UnavailableError("the raw baseline's server process did not start");
    }
    return RawProcessServer(pid, std::move(endpoint));
  }

  RawProcessServer(RawProcessServer&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), endpoint_(std::move(other.endpoint_)) {}
  // The owner sends a quit request first; this reaps the child (killing it if it lingers).
  ~RawProcessServer() {
    if (pid_ <= 0) return;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      ::usleep(10000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
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
  explicit RawClient(const std::string& endpoint) : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, kRawTimeoutMs);
    socket_.connect(endpoint);
    std::memset(ping_, kPing, sizeof(ping_));
  }

  Status Ping() {
    socket_.send(zmq::buffer(ping_, sizeof(ping_)), zmq::send_flags::none);
    zmq::message_t reply;
    if (!socket_.recv(reply)) return DeadlineExceededError("no ping reply");
    if (reply.size() != kPingBytes) return InternalError("bad ping reply");
    return Status::Ok();
  }

  // Sends `size` bytes from `data` without copying them; returns once the server has them.
  Status Sink(const char* data, size_t size) {
    const char head = kSink;
    socket_.send(zmq::buffer(&head, 1), zmq::send_flags::sndmore);
    socket_.send(zmq::message_t(const_cast<char*>(data), size, NoFree, nullptr),
                 zmq::send_flags::none);
    zmq::message_t ack;
    if (!socket_.recv(ack)) return DeadlineExceededError("no sink ack");
    return Status::Ok();
  }

  // Asks for `size` bytes and receives them (into ZeroMQ's own buffer, as a message).
  Status Source(size_t size) {
    char head[9];
    head[0] = kSource;
    const uint64_t size64 = size;
    std::memcpy(head + 1, &size64, sizeof(size64));
    socket_.send(zmq::buffer(head, sizeof(head)), zmq::send_flags::none);
    zmq::message_t reply;
    if (!socket_.recv(reply)) return DeadlineExceededError("no source reply");
    if (reply.size() != size) return InternalError("source reply of the wrong size");
    benchmark::DoNotOptimize(reply.data());
    return Status::Ok();
  }

  // Sink and Source cut into kChunkBytes messages with kCopyWindow requests outstanding, as
  // Ferry's copies are: raw ZeroMQ streaming with the same pipelining.
  Status SinkChunked(const char* data, size_t size) {
    size_t in_flight = 0;
    for (size_t offset = 0; offset < size; offset += rpc::kChunkBytes) {
      const char head = kSink;
      socket_.send(zmq::buffer(&head, 1), zmq::send_flags::sndmore);
      socket_.send(zmq::message_t(const_cast<char*>(data) + offset,
                                  std::min(rpc::kChunkBytes, size - offset), NoFree, nullptr),
                   zmq::send_flags::none);
      if (++in_flight == static_cast<size_t>(rpc::kCopyWindow)) {
        zmq::message_t ack;
        if (!socket_.recv(ack)) return DeadlineExceededError("no sink ack");
        --in_flight;
      }
    }
    for (; in_flight > 0; --in_flight) {
      zmq::message_t ack;
      if (!socket_.recv(ack)) return DeadlineExceededError("no sink ack");
    }
    return Status::Ok();
  }

  Status SourceChunked(size_t size) {
    std::vector<size_t> in_flight;  // sizes asked for, oldest first
    size_t next = 0;
    auto receive = [&]() -> Status {
      zmq::message_t reply;
      if (!socket_.recv(reply)) return DeadlineExceededError("no source reply");
      if (reply.size() != in_flight[next++]) return InternalError("source reply of the wrong size");
      return Status::Ok();
    };
    for (size_t offset = 0; offset < size; offset += rpc::kChunkBytes) {
      const size_t chunk = std::min(rpc::kChunkBytes, size - offset);
      char head[9];
      head[0] = kSource;
      const uint64_t size64 = chunk;
      std::memcpy(head + 1, &size64, sizeof(size64));
      socket_.send(zmq::buffer(head, sizeof(head)), zmq::send_flags::none);
      in_flight.push_back(chunk);
      if (in_flight.size() - next == static_cast<size_t>(rpc::kCopyWindow)) {
        RETURN_IF_ERROR(receive());
      }
    }
    while (next < in_flight.size()) RETURN_IF_ERROR(receive());
    return Status::Ok();
  }

  void Quit() {
    socket_.send(zmq::str_buffer("q"), zmq::send_flags::none);
    zmq::message_t reply;
    (void)socket_.recv(reply);
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  char ping_[kPingBytes];
};

// ---------------------------------------------------------------------------------------------
// The Ferry side: an agent on a thread of this process and one session with it.

class AgentThread {
 public:
  static StatusOr<std::unique_ptr<AgentThread>> Start() {
    // FERRY_BENCH_WORKER may name another worker executable (e.g. a script that sets
    // GLIBC_TUNABLES and execs ferry-agent), to compare worker builds or settings.
    const char* override_worker = std::getenv("FERRY_BENCH_WORKER");
    const std::string worker =
        override_worker != nullptr && *override_worker != '\0' ? override_worker : FERRY_AGENT_PATH;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(worker, ec)) {
      return NotFoundError("the session worker executable " + worker +
                           " is missing; build the ferry-agent target");
    }
    std::string work_dir = "/tmp/ferry-rpc-bench-XXXXXX";
    if (::mkdtemp(work_dir.data()) == nullptr) {
      return UnavailableError("cannot create a work directory");
    }
    agent::AgentConfig config;
    config.listen = "tcp://127.0.0.1:*";
    config.work_dir = work_dir;
    config.worker_executable = worker;
    StatusOr<std::unique_ptr<agent::Agent>> agent = agent::Agent::Create(config);
    if (!agent.ok()) {
      std::filesystem::remove_all(work_dir, ec);
      return agent.status();
    }
    auto self = std::unique_ptr<AgentThread>(new AgentThread(std::move(*agent), work_dir, worker));
    self->thread_ = std::thread([p = self.get()] { p->status_ = p->agent_->Serve(p->stop_); });
    return self;
  }

  ~AgentThread() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    if (!status_.ok()) std::fprintf(stderr, "rpc_bench: agent: %s\n", status_.ToString().c_str());
    agent_.reset();
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }

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

// The fields of /proc/<pid>/stat after the command name (which may hold spaces): state ppid
// pgrp session tty_nr tpgid flags minflt ...; empty when there is no such process.
std::string StatFields(const std::string& pid) {
  std::ifstream file("/proc/" + pid + "/stat");
  std::string line;
  std::getline(file, line);
  const size_t close = line.rfind(')');
  return close == std::string::npos ? "" : line.substr(close + 1);
}

uint64_t MinorFaultsOf(pid_t pid) {
  unsigned long long minflt = 0;
  std::sscanf(StatFields(std::to_string(pid)).c_str(), " %*c %*d %*d %*d %*d %*d %*u %llu",
              &minflt);
  return minflt;
}

// This process's children (found through /proc, as the agent starts the worker).
std::vector<pid_t> ChildProcesses() {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    int ppid = 0;
    if (std::sscanf(StatFields(name).c_str(), " %*c %d", &ppid) == 1 && ppid == ::getpid()) {
      children.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return children;
}

class FaultCounter {
 public:
  explicit FaultCounter(std::vector<pid_t> children) : children_(std::move(children)) {}
  // Faults so far in this process and its children, and in this process alone.
  std::pair<uint64_t, uint64_t> Now() const {
    const uint64_t here = MinorFaultsOf(::getpid());
    uint64_t total = here;
    for (pid_t child : children_) total += MinorFaultsOf(child);
    return {total, here};
  }

 private:
  std::vector<pid_t> children_;
};

struct CopyCase {
  size_t bytes;
  NDArray host_src;  // filled with a pattern
  NDArray host_dst;  // preallocated, pages touched
  NDArray remote;    // on the session's remote CPU
};

// Everything the benchmarks use; built (and checked) before any timing.
struct Fixture {
  rpc::RemoteSession* remote = nullptr;
  PackedFunc echo;
  std::vector<CopyCase> copies;
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

// Fills `bytes` bytes at `data` with a splitmix64 sequence: cheap, and different per seed.
void FillPseudoRandom(char* data, size_t bytes, uint64_t seed) {
  uint64_t state = seed;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(data + i, &z, 8);
  }
  for (; i < bytes; ++i) data[i] = static_cast<char>(i);
}

StatusOr<NDArray> HostArray(size_t bytes) {
  return NDArray::Empty({static_cast<int64_t>(bytes)}, DataType::UInt8(), Device::Cpu());
}

StatusOr<bool> UploadBeginOnly(rpc::RemoteSession& remote, const std::string& label,
                               const std::string& digest, size_t size) {
  ASSIGN_OR_RETURN(
      rpc::ParsedMessage reply,
      remote.core()->Call(rpc::MessageType::kUploadBegin, 3, [&](rpc::MessageWriter& w) {
        w.packer().pack(label);
        w.packer().pack(digest);
        w.packer().pack(static_cast<uint64_t>(size));
      }));
  RETURN_IF_ERROR(rpc::CheckBodySize(reply, 1));
  return rpc::ReadBool(reply.item(0), "complete");
}

// Prepares the arrays and uploads, and runs every path once: each Ferry copy is checked byte
// for byte (CopyTo on the smallest size only: it allocates), each raw exchange for its sizes.
Status PrepareFixture(Fixture& f) {
  rpc::RemoteSession& remote = *f.remote;
  ASSIGN_OR_RETURN(f.echo, remote.GetFunction("ferry.echo"));
  RETURN_IF_ERROR(f.echo.CallPacked({}).status().WithContext("ferry.echo()"));
  for (RawClient* raw : f.raw) RETURN_IF_ERROR(raw->Ping());

  uint64_t seed = 1;
  for (size_t bytes : kCopySizes) {
    CopyCase c;
    c.bytes = bytes;
    ASSIGN_OR_RETURN(c.host_src, HostArray(bytes));
    FillPseudoRandom(c.host_src.data_as<char>(), bytes, seed++);
    ASSIGN_OR_RETURN(c.host_dst, HostArray(bytes));
    std::memset(c.host_dst.data(), 0, bytes);
    ASSIGN_OR_RETURN(c.remote,
                     remote.Empty({static_cast<int64_t>(bytes)}, DataType::UInt8(), remote.Cpu(0)));
    RETURN_IF_ERROR(c.remote.CopyFrom(c.host_src));
    RETURN_IF_ERROR(c.host_dst.CopyFrom(c.remote));
    if (std::memcmp(c.host_src.data(), c.host_dst.data(), bytes) != 0) {
      return InternalError("a " + SizeName(bytes) +
                           " round trip through the session changed bytes");
    }
    if (bytes == kCopySizes[0]) {
      ASSIGN_OR_RETURN(NDArray copied, c.remote.CopyTo(Device::Cpu()));
      if (std::memcmp(c.host_src.data(), copied.data(), bytes) != 0) {
        return InternalError("CopyTo(Cpu()) of " + SizeName(bytes) + " changed bytes");
      }
      for (RawClient* raw : f.raw) {
        RETURN_IF_ERROR(raw->Sink(c.host_src.data_as<char>(), bytes));
        RETURN_IF_ERROR(raw->Source(bytes));
      }
      RETURN_IF_ERROR(f.raw[1]->SinkChunked(c.host_src.data_as<char>(), bytes));
      RETURN_IF_ERROR(f.raw[1]->SourceChunked(bytes));
    }
    f.copies.push_back(std::move(c));
  }

  f.fresh_upload.resize(kUploadBytes);
  FillPseudoRandom(f.fresh_upload.data(), kUploadBytes, seed++);
  f.cached_upload.resize(kUploadBytes);
  FillPseudoRandom(f.cached_upload.data(), kUploadBytes, seed++);
  f.cached_digest = agent::Sha256Hex(f.cached_upload);
  // The agent checks the content against its digest before storing it. Uploading the file
  // also lets the session remember its digest, as `ferry run --agent` repeats would.
  f.cached_path = (std::filesystem::temp_directory_path() /
                   ("ferry-rpc-bench-" + std::to_string(::getpid()) + ".bin"))
                      .string();
  RETURN_IF_ERROR(WriteFileAtomically(f.cached_path, f.cached_upload));
  RETURN_IF_ERROR(remote.Upload(f.cached_path, "cached.bin"));
  ASSIGN_OR_RETURN(bool complete,
                   UploadBeginOnly(remote, "cached.bin", f.cached_digest, f.cached_upload.size()));
  if (!complete) return InternalError("the agent did not find a file it has just stored");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Benchmarks. All measure real time and count page faults per iteration ("faults").

using Operation = std::function<Status(benchmark::State&)>;

// Registers `op` as benchmark `name`; `bytes` (when not 0) per iteration gives bytes_per_second.
// `repetitions` (when not 0) overrides --benchmark_repetitions for this benchmark.
benchmark::internal::Benchmark* Register(const std::string& name, benchmark::TimeUnit unit,
                                         size_t bytes, const FaultCounter* faults, Operation op,
                                         int repetitions = 0) {
  benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
      name.c_str(), [bytes, faults, op = std::move(op)](benchmark::State& state) {
        const auto [faults_before, here_before] = faults->Now();
        for (auto _ : state) {
          const Status status = op(state);
          if (!status.ok()) {
            state.SkipWithError(status.ToString().c_str());
            return;
          }
        }
        const auto [faults_after, here_after] = faults->Now();
        state.counters["faults"] = benchmark::Counter(
            static_cast<double>(faults_after - faults_before), benchmark::Counter::kAvgIterations);
        state.counters["faults_here"] = benchmark::Counter(
            static_cast<double>(here_after - here_before), benchmark::Counter::kAvgIterations);
        if (bytes > 0) {
          state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                                  static_cast<int64_t>(bytes));
        }
      });
  b->Unit(unit)->UseRealTime();
  if (repetitions > 0) b->Repetitions(repetitions);
  return b;
}

// The fastest repetition: the one least disturbed by other work on the machine.
double Fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void RegisterAll(Fixture* f, const FaultCounter* faults) {
  // Empty call round trips.
  // Short, so they run more repetitions, and report their fastest one too.
  Register(
      "call/ferry", benchmark::kMicrosecond, 0, faults,
      [f](benchmark::State&) { return f->echo.CallPacked({}).status(); }, kCallRepetitions)
      ->ComputeStatistics("min", Fastest);
  for (int r = 0; r < 2; ++r) {
    Register(
        std::string("call/") + kRawNames[r], benchmark::kMicrosecond, 0, faults,
        [f, r](benchmark::State&) { return f->raw[r]->Ping(); }, kCallRepetitions)
        ->ComputeStatistics("min", Fastest);
  }

  // Copies. A raw transfer of the largest size takes a second or more here (see the README), so
  // it runs fewer repetitions.
  for (CopyCase& c : f->copies) {
    CopyCase* p = &c;
    const std::string size = SizeName(c.bytes);
    const int reps = c.bytes >= 256 * kMiB ? kLargeCopyRepetitions : 0;
    const auto add = [&](const std::string& name, Operation op) {
      Register(name, benchmark::kMillisecond, p->bytes, faults, std::move(op), reps);
    };
    add("to_remote/" + size + "/ferry",
        [p](benchmark::State&) { return p->remote.CopyFrom(p->host_src); });
    add("to_host/" + size + "/ferry",
        [p](benchmark::State&) { return p->host_dst.CopyFrom(p->remote); });
    add("to_host/" + size + "/ferry_copyto",
        [p](benchmark::State&) { return p->remote.CopyTo(Device::Cpu()).status(); });
    for (int r = 0; r < 2; ++r) {
      add("to_remote/" + size + "/" + kRawNames[r], [f, p, r](benchmark::State&) {
        return f->raw[r]->Sink(p->host_src.data_as<char>(), p->bytes);
      });
      add("to_host/" + size + "/" + kRawNames[r],
          [f, p, r](benchmark::State&) { return f->raw[r]->Source(p->bytes); });
    }
    add("to_remote/" + size + "/raw_chunked", [f, p](benchmark::State&) {
      return f->raw[1]->SinkChunked(p->host_src.data_as<char>(), p->bytes);
    });
    add("to_host/" + size + "/raw_chunked",
        [f, p](benchmark::State&) { return f->raw[1]->SourceChunked(p->bytes); });
  }

  // Uploads.
  Register(
      "upload/fresh", benchmark::kMillisecond, kUploadBytes, faults,
      [f](benchmark::State& state) {
        state.PauseTiming();
        // New content (so the agent's cache cannot have it) under a new label.
        ++f->fresh_counter;
        std::memcpy(f->fresh_upload.data(), &f->fresh_counter, sizeof(f->fresh_counter));
        const std::string label = "fresh-" + std::to_string(f->fresh_counter) + ".bin";
        state.ResumeTiming();
        return f->remote->UploadBytes(f->fresh_upload, label);
      },
      kFreshUploadRepetitions);
  Register("upload/repeat", benchmark::kMillisecond, 0, faults, [f](benchmark::State&) {
    return f->remote->Upload(f->cached_path, "cached.bin");
  });
  Register("upload/repeat_bytes", benchmark::kMillisecond, 0, faults, [f](benchmark::State&) {
    return f->remote->UploadBytes(f->cached_upload, "cached.bin");
  });
  Register("upload/repeat_sha256", benchmark::kMillisecond, 0, faults, [f](benchmark::State&) {
    benchmark::DoNotOptimize(agent::Sha256Hex(f->cached_upload));
    return Status::Ok();
  });
  Register("upload/repeat_begin", benchmark::kMicrosecond, 0, faults, [f](benchmark::State&) {
    StatusOr<bool> complete =
        UploadBeginOnly(*f->remote, "cached.bin", f->cached_digest, f->cached_upload.size());
    if (complete.ok() && !*complete) return InternalError("the agent lost a cached upload");
    return complete.status();
  });
}

// ---------------------------------------------------------------------------------------------
// Summary.

// The console output as usual, plus each benchmark's real time per iteration in seconds and
// its faults per iteration: the median aggregate when there are repetitions, else the median
// of the runs it saw.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string& name = run.run_name.function_name;
      const double seconds =
          run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      const auto faults = run.counters.find("faults");
      const auto here = run.counters.find("faults_here");
      if (run.run_type == Run::RT_Aggregate) {
        // A percentage aggregate (cv) holds the fraction itself in real_accumulated_time.
        if (run.aggregate_name == "median") {
          medians_[name] = seconds;
          if (faults != run.counters.end()) faults_[name] = faults->second.value;
          if (here != run.counters.end()) faults_here_[name] = here->second.value;
        }
        if (run.aggregate_name == "cv") cvs_[name] = run.real_accumulated_time;
        if (run.aggregate_name == "min") mins_[name] = seconds;
      } else {
        samples_[name].push_back(seconds);
        if (faults != run.counters.end()) fault_samples_[name].push_back(faults->second.value);
        if (here != run.counters.end()) fault_here_samples_[name].push_back(here->second.value);
      }
    }
  }

  // Median seconds per iteration of `name`; nullopt when it did not run.
  std::optional<double> Seconds(const std::string& name) const {
    return Lookup(medians_, samples_, name);
  }
  // Median page faults per iteration of `name` (this process and its children).
  std::optional<double> Faults(const std::string& name) const {
    return Lookup(faults_, fault_samples_, name);
  }
  // The same, in this process alone.
  std::optional<double> FaultsHere(const std::string& name) const {
    return Lookup(faults_here_, fault_here_samples_, name);
  }
  // Seconds per iteration of `name`'s fastest repetition, where it computes "min".
  std::optional<double> Fastest(const std::string& name) const {
    if (auto it = mins_.find(name); it != mins_.end()) return it->second;
    return std::nullopt;
  }
  // Coefficient of variation of `name`'s repetitions (0.05 = 5%).
  std::optional<double> Cv(const std::string& name) const {
    if (auto it = cvs_.find(name); it != cvs_.end()) return it->second;
    return std::nullopt;
  }

 private:
  using Samples = std::map<std::string, std::vector<double>>;
  static std::optional<double> Lookup(const std::map<std::string, double>& medians,
                                      const Samples& samples, const std::string& name) {
    if (auto it = medians.find(name); it != medians.end()) return it->second;
    auto it = samples.find(name);
    if (it == samples.end() || it->second.empty()) return std::nullopt;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  std::map<std::string, double> medians_, faults_, faults_here_, cvs_, mins_;
  Samples samples_, fault_samples_, fault_here_samples_;
};

std::string Cell(std::optional<double> v, const char* format) {
  if (!v) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), format, *v);
  return buffer;
}

std::optional<double> Ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

std::optional<double> Scale(std::optional<double> v, double factor) {
  if (!v) return std::nullopt;
  return *v * factor;
}

// The largest cv (in percent) among `names`.
std::optional<double> Noise(const RecordingReporter& r, const std::vector<std::string>& names) {
  std::optional<double> noise;
  for (const std::string& name : names) {
    if (std::optional<double> cv = r.Cv(name)) noise = std::max(noise.value_or(0.0), *cv * 100);
  }
  return noise;
}

// "ok" or "MISS" for each ratio, joined by '/'.
std::string Verdicts(std::initializer_list<std::optional<double>> ratios, bool at_most,
                     double target) {
  std::string out;
  for (const std::optional<double>& ratio : ratios) {
    if (!out.empty()) out += "/";
    out += !ratio ? "n/a" : (at_most ? *ratio <= target : *ratio >= target) ? "ok" : "MISS";
  }
  return out;
}

void PrintSummary(const RecordingReporter& r) {
  std::printf(
      "\nFerry remote session summary: real time (median over repetitions); every ratio is\n"
      "against a raw ZeroMQ baseline measured in this same run, over tcp on 127.0.0.1.\n"
      "Ferry's remote side is a session worker process (ferry-agent, started by the agent that\n"
      "serves on a thread of this process). raw_thread's server is a thread of this process;\n"
      "raw_process's is a child process, like for like with the worker; raw_chunked is\n"
      "raw_process's server fed the way Ferry copies (4 MiB messages, 4 in flight). noise =\n"
      "the largest coefficient of variation among a row's benchmarks.\n");

  if (std::optional<double> call = r.Seconds("call/ferry")) {
    const std::optional<double> raw_t = r.Seconds("call/raw_thread");
    const std::optional<double> raw_p = r.Seconds("call/raw_process");
    const std::optional<double> rt = Ratio(call, raw_t), rp = Ratio(call, raw_p);
    std::printf("\nempty call round trip (target: ferry / raw <= 1.30)\n");
    std::printf("  %10s %14s %15s %9s %9s %9s %6s\n", "ferry us", "raw_thread us", "raw_process us",
                "/thread", "/process", "target", "noise");
    std::printf(
        "  %10s %14s %15s %9s %9s %9s %5s%%\n", Cell(Scale(call, 1e6), "%.1f").c_str(),
        Cell(Scale(raw_t, 1e6), "%.1f").c_str(), Cell(Scale(raw_p, 1e6), "%.1f").c_str(),
        Cell(rt, "%.3f").c_str(), Cell(rp, "%.3f").c_str(), Verdicts({rt, rp}, true, 1.3).c_str(),
        Cell(Noise(r, {"call/ferry", "call/raw_thread", "call/raw_process"}), "%.1f").c_str());
    const std::optional<double> best = r.Fastest("call/ferry");
    const std::optional<double> best_t = r.Fastest("call/raw_thread");
    const std::optional<double> best_p = r.Fastest("call/raw_process");
    const std::optional<double> bt = Ratio(best, best_t), bp = Ratio(best, best_p);
    std::printf("  %10s %14s %15s %9s %9s %9s  (fastest repetition)\n",
                Cell(Scale(best, 1e6), "%.1f").c_str(), Cell(Scale(best_t, 1e6), "%.1f").c_str(),
                Cell(Scale(best_p, 1e6), "%.1f").c_str(), Cell(bt, "%.3f").c_str(),
                Cell(bp, "%.3f").c_str(), Verdicts({bt, bp}, true, 1.3).c_str());
  }

  struct Row {
    const char* label;
    const char* prefix;
    const char* ferry;
  };
  const Row rows[] = {{"host->remote CopyFrom", "to_remote/", "ferry"},
                      {"remote->host CopyFrom", "to_host/", "ferry"},
                      {"remote->host CopyTo", "to_host/", "ferry_copyto"}};
  const char* const kBaselines[] = {"raw_thread", "raw_process", "raw_chunked"};
  bool header = false;
  std::string fault_lines;
  for (const Row& row : rows) {
    for (size_t bytes : kCopySizes) {
      const std::string base = row.prefix + SizeName(bytes) + "/";
      const auto gbps = [&](const std::string& name) -> std::optional<double> {
        std::optional<double> s = r.Seconds(name);
        if (!s || *s <= 0) return std::nullopt;
        return static_cast<double>(bytes) / *s / 1e9;
      };
      const std::optional<double> ferry = gbps(base + row.ferry);
      if (!ferry) continue;
      std::optional<double> raw[3], ratio[3];
      std::vector<std::string> names = {base + row.ferry};
      for (int i = 0; i < 3; ++i) {
        raw[i] = gbps(base + kBaselines[i]);
        ratio[i] = Ratio(ferry, raw[i]);
        names.push_back(base + kBaselines[i]);
      }
      if (!header) {
        std::printf(
            "\ncopy bandwidth, GB/s = 1e9 bytes/s (target: ferry / raw >= 0.80)\n"
            "  %-21s %7s %6s %10s %11s %11s %8s %8s %8s %14s %6s\n",
            "direction", "size", "ferry", "raw_thread", "raw_process", "raw_chunked", "/thread",
            "/process", "/chunked", "target", "noise");
        header = true;
      }
      const std::string size = std::to_string(bytes / kMiB) + " MiB";
      std::printf("  %-21s %7s %6s %10s %11s %11s %8s %8s %8s %14s %5s%%\n", row.label,
                  size.c_str(), Cell(ferry, "%.2f").c_str(), Cell(raw[0], "%.2f").c_str(),
                  Cell(raw[1], "%.2f").c_str(), Cell(raw[2], "%.2f").c_str(),
                  Cell(ratio[0], "%.3f").c_str(), Cell(ratio[1], "%.3f").c_str(),
                  Cell(ratio[2], "%.3f").c_str(),
                  Verdicts({ratio[0], ratio[1], ratio[2]}, false, 0.8).c_str(),
                  Cell(Noise(r, names), "%.1f").c_str());
      const double per_mib = 1.0 / static_cast<double>(bytes / kMiB);
      char line[200];
      const std::optional<double> ferry_all = r.Faults(base + row.ferry);
      const std::optional<double> ferry_here = r.FaultsHere(base + row.ferry);
      const std::optional<double> ferry_worker =
          ferry_all && ferry_here ? std::optional<double>(*ferry_all - *ferry_here) : std::nullopt;
      std::snprintf(line, sizeof(line), "  %-21s %7s %8s %8s %8s %10s %11s %11s\n", row.label,
                    size.c_str(), Cell(Scale(ferry_all, per_mib), "%.0f").c_str(),
                    Cell(Scale(ferry_here, per_mib), "%.0f").c_str(),
                    Cell(Scale(ferry_worker, per_mib), "%.0f").c_str(),
                    Cell(Scale(r.Faults(base + kBaselines[0]), per_mib), "%.0f").c_str(),
                    Cell(Scale(r.Faults(base + kBaselines[1]), per_mib), "%.0f").c_str(),
                    Cell(Scale(r.Faults(base + kBaselines[2]), per_mib), "%.0f").c_str());
      fault_lines += line;
    }
  }
  if (!fault_lines.empty()) {
    std::printf(
        "\npage faults per MiB copied (256 = every byte lands on a fresh 4 KiB page); ferry's\n"
        "split into the client's process and the session worker's\n"
        "  %-21s %7s %8s %8s %8s %10s %11s %11s\n%s",
        "direction", "size", "ferry", "client", "worker", "raw_thread", "raw_process",
        "raw_chunked", fault_lines.c_str());
  }

  const std::optional<double> fresh = r.Seconds("upload/fresh");
  const std::optional<double> repeat = r.Seconds("upload/repeat");
  if (fresh || repeat) {
    std::printf("\nupload of %zu MiB (UploadBytes; target: repeat < 1 ms)\n", kUploadBytes / kMiB);
    std::printf(
        "  new content:                  %10s ms  (%s GB/s: client SHA-256, transfer,\n"
        "                                               agent write + SHA-256 + fsync)\n",
        Cell(Scale(fresh, 1e3), "%.1f").c_str(),
        Cell(fresh ? std::optional<double>(kUploadBytes / *fresh / 1e9) : std::nullopt, "%.2f")
            .c_str());
    const std::optional<double> all = r.Faults("upload/fresh");
    const std::optional<double> here = r.FaultsHere("upload/fresh");
    if (all && here) {
      const double mib = static_cast<double>(kUploadBytes / kMiB);
      std::printf("    page faults per MiB:        client %.0f, worker %.0f\n", *here / mib,
                  (*all - *here) / mib);
    }
    std::printf("  repeat of Upload(file):       %10s ms  target: %s  (stat + one round trip)\n",
                Cell(Scale(repeat, 1e3), "%.3f").c_str(),
                repeat ? (*repeat < 1e-3 ? "ok" : "MISS") : "n/a");
    std::printf("  repeat of UploadBytes:        %10s ms  (hashes the bytes every time)\n",
                Cell(Scale(r.Seconds("upload/repeat_bytes"), 1e3), "%.3f").c_str());
    std::printf("    its client-side SHA-256:    %10s ms\n",
                Cell(Scale(r.Seconds("upload/repeat_sha256"), 1e3), "%.3f").c_str());
    std::printf("    its UploadBegin round trip: %10s ms  (all a cached upload costs the wire)\n",
                Cell(Scale(r.Seconds("upload/repeat_begin"), 1e3), "%.3f").c_str());
  }
}

int Main(int argc, char** argv) {
  // First, before any thread or ZeroMQ context exists: the raw baseline's server process.
  StatusOr<RawProcessServer> raw_process = RawProcessServer::Start();
  if (!raw_process.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n", raw_process.status().ToString().c_str());
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  std::vector<char*> args = {argv[0]};
  for (const char* flag : kDefaultFlags) args.push_back(const_cast<char*>(flag));
  args.insert(args.end(), argv + 1, argv + argc);
  int args_count = static_cast<int>(args.size());
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;
  benchmark::AddCustomContext("transport", "tcp://127.0.0.1, one ZeroMQ context per endpoint");
  benchmark::AddCustomContext("raw_thread_server", "a thread of this process");
  benchmark::AddCustomContext("raw_process_server", "a child process forked at start-up");

  StatusOr<std::unique_ptr<AgentThread>> agent = AgentThread::Start();
  if (!agent.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n", agent.status().ToString().c_str());
    return 1;
  }
  benchmark::AddCustomContext("ferry_session_worker", (*agent)->worker() + " --session-worker");
  RawThreadServer raw_thread;
  RawClient raw_thread_client(raw_thread.endpoint());
  RawClient raw_process_client(raw_process->endpoint());
  int code = 0;
  {
    StatusOr<rpc::RemoteSession> remote = rpc::Connect((*agent)->endpoint());
    if (!remote.ok()) {
      std::fprintf(stderr, "rpc_bench: %s\n", remote.status().ToString().c_str());
      code = 1;
    } else {
      std::fprintf(stderr, "rpc_bench: preparing arrays and uploads, checking every path...\n");
      Fixture fixture;
      fixture.remote = &*remote;
      fixture.raw[0] = &raw_thread_client;
      fixture.raw[1] = &raw_process_client;
      const auto setup_start = std::chrono::steady_clock::now();
      Status prepared = PrepareFixture(fixture);
      std::fprintf(
          stderr, "rpc_bench: set-up took %.1f s\n",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count());
      if (!prepared.ok()) {
        std::fprintf(stderr, "rpc_bench: %s\n", prepared.ToString().c_str());
        code = 1;
      } else {
        const FaultCounter faults(ChildProcesses());
        RegisterAll(&fixture, &faults);
        RecordingReporter reporter;
        benchmark::RunSpecifiedBenchmarks(&reporter);
        PrintSummary(reporter);
      }
      fixture.copies.clear();
      fixture.echo = PackedFunc();
      (void)remote->Close();
    }
  }
  raw_thread_client.Quit();
  raw_process_client.Quit();
  benchmark::Shutdown();
  return code;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) {
  try {
    return ferry::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rpc_bench: %s\n", e.what());
    return 1;
  }
}
