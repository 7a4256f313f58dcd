// rpc_bench_fixture.cc: the raw ZeroMQ baseline, the agent thread, page-fault counting and
// the fixture's set-up for rpc_bench (see rpc_bench_fixture.h).
#include "bench/rpc_bench_fixture.h"

#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "compiler/export_library.h"
#include "compiler/zoo.h"
#include "device_agent/sha256.h"
#include "rpc/message.h"
#include "runtime/file_util.h"
#include "runtime/library_module.h"

#ifndef FERRY_AGENT_PATH
#error "FERRY_AGENT_PATH must name the ferry-agent executable (bench/CMakeLists.txt sets it)"
#endif

namespace ferry::bench {
namespace {

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

// The output of one RunModel, on the host.
StatusOr<NDArray> ModelOutput(const ExecutorModule& executor, const NDArray& input) {
  RETURN_IF_ERROR(executor.SetInput("data", input));
  RETURN_IF_ERROR(executor.Run());
  ASSIGN_OR_RETURN(NDArray output, executor.GetOutput(0));
  return output.CopyTo(Device::Cpu());
}

// The output of one RunModelInOneRoundTrip, on the host.
StatusOr<NDArray> SequenceOutput(rpc::RemoteSession& session, const ExecutorModule& executor,
                                 const NDArray& input) {
  // GetFunction asks the session once per name; later calls come from the module's cache.
  ASSIGN_OR_RETURN(PackedFunc set_input, executor.module().GetFunction("set_input"));
  ASSIGN_OR_RETURN(PackedFunc run, executor.module().GetFunction("run"));
  ASSIGN_OR_RETURN(PackedFunc get_output, executor.module().GetFunction("get_output"));
  const rpc::RemoteCall calls[] = {{set_input, {Value(std::string("data")), Value(input)}},
                                   {run, {}},
                                   {get_output, {Value(int64_t{0})}}};
  ASSIGN_OR_RETURN(std::vector<Value> results, session.CallSequence(calls));
  ASSIGN_OR_RETURN(NDArray output, results[2].As<NDArray>());
  return output.CopyTo(Device::Cpu());
}

// Builds the zoo mlp into a library, loads it here and in every session (uploaded under
// "mlp.so"), and checks every remote output against the local one.
Status PrepareModel(Fixture& f) {
  ModelCase& m = f.mlp;
  ASSIGN_OR_RETURN(compiler::TempDir dir, compiler::TempDir::Create("ferry-rpc-bench-mlp-"));
  m.dir.emplace(std::move(dir));
  const std::string path = m.dir->path() + "/mlp.so";
  ASSIGN_OR_RETURN(compiler::Model model, compiler::BuildZooModel("mlp"));
  const compiler::ModelBuild builds[] = {{&model, ExecutorKind::kGraph}};
  RETURN_IF_ERROR(compiler::ExportLibrary(builds, path));
  ASSIGN_OR_RETURN(Module library, LoadModule(path));
  ASSIGN_OR_RETURN(ExecutorModule local, ExecutorModule::Create(library, "mlp", Device::Cpu()));
  m.local.emplace(std::move(local));
  ASSIGN_OR_RETURN(m.input, NDArray::Empty({1, 784}, DataType::Float32(), Device::Cpu()));
  for (int64_t i = 0; i < m.input.NumElements(); ++i) {
    m.input.data_as<float>()[i] = static_cast<float>((i * 7919) % 2001) / 1000.0f - 1.0f;
  }
  ASSIGN_OR_RETURN(NDArray expected, ModelOutput(*m.local, m.input));
  const auto open = [&](rpc::RemoteSession& session,
                        const std::string& name) -> StatusOr<ExecutorModule> {
    RETURN_IF_ERROR(session.Upload(path, "mlp.so").WithContext(name));
    ASSIGN_OR_RETURN(Module remote_library, session.LoadModule("mlp.so"));
    ASSIGN_OR_RETURN(ExecutorModule executor,
                     ExecutorModule::Create(remote_library, "mlp", session.Cpu(0)));
    ASSIGN_OR_RETURN(NDArray output, ModelOutput(executor, m.input));
    if (output.NumBytes() != expected.NumBytes() ||
        std::memcmp(output.data(), expected.data(), expected.NumBytes()) != 0) {
      return InternalError(name + ": the remote mlp's output differs from the local one");
    }
    return executor;
  };
  ASSIGN_OR_RETURN(ExecutorModule remote, open(*f.remote, "ferry"));
  ASSIGN_OR_RETURN(NDArray sequenced, SequenceOutput(*f.remote, remote, m.input));
  if (sequenced.NumBytes() != expected.NumBytes() ||
      std::memcmp(sequenced.data(), expected.data(), expected.NumBytes()) != 0) {
    return InternalError("the mlp's output through one CallSequence differs from the local one");
  }
  m.remote.emplace(std::move(remote));
  for (const SecureSession& s : f.secure) {
    ASSIGN_OR_RETURN(ExecutorModule secure, open(*s.remote, s.name));
    m.secure.push_back(std::move(secure));
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The raw servers and client.

RawThreadServer::RawThreadServer() : source_(MakeSource()) {
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

RawThreadServer::~RawThreadServer() {
  context_.shutdown();  // a blocked receive then fails with ETERM
  if (thread_.joinable()) thread_.join();
}

StatusOr<RawProcessServer> RawProcessServer::Start() {
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

RawProcessServer::~RawProcessServer() {
  if (pid_ <= 0) return;
  for (int i = 0; i < 200; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    ::usleep(10000);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

RawClient::RawClient(const std::string& endpoint) : socket_(context_, zmq::socket_type::dealer) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::rcvtimeo, kRawTimeoutMs);
  socket_.connect(endpoint);
  std::memset(ping_, kPing, sizeof(ping_));
}

Status RawClient::Ping() {
  socket_.send(zmq::buffer(ping_, sizeof(ping_)), zmq::send_flags::none);
  zmq::message_t reply;
  if (!socket_.recv(reply)) return DeadlineExceededError("no ping reply");
  if (reply.size() != kPingBytes) return InternalError("bad ping reply");
  return Status::Ok();
}

Status RawClient::Sink(const char* data, size_t size) {
  const char head = kSink;
  socket_.send(zmq::buffer(&head, 1), zmq::send_flags::sndmore);
  socket_.send(zmq::message_t(const_cast<char*>(data), size, NoFree, nullptr),
               zmq::send_flags::none);
  zmq::message_t ack;
  if (!socket_.recv(ack)) return DeadlineExceededError("no sink ack");
  return Status::Ok();
}

Status RawClient::Source(size_t size) {
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

Status RawClient::SinkChunked(const char* data, size_t size) {
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

Status RawClient::SourceChunked(size_t size) {
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

void RawClient::Quit() {
  socket_.send(zmq::str_buffer("q"), zmq::send_flags::none);
  zmq::message_t reply;
  (void)socket_.recv(reply);
}

// ---------------------------------------------------------------------------------------------
// The agent thread.

StatusOr<std::unique_ptr<AgentThread>> AgentThread::Start(
    std::optional<rpc::CurveKeyPair> identity, rpc::AuthorizedKeys client_keys) {
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
  config.identity = std::move(identity);
  config.client_keys = std::move(client_keys);
  StatusOr<std::unique_ptr<agent::Agent>> agent = agent::Agent::Create(config);
  if (!agent.ok()) {
    std::filesystem::remove_all(work_dir, ec);
    return agent.status();
  }
  auto self = std::unique_ptr<AgentThread>(new AgentThread(std::move(*agent), work_dir, worker));
  self->thread_ = std::thread([p = self.get()] { p->status_ = p->agent_->Serve(p->stop_); });
  return self;
}

AgentThread::~AgentThread() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (!status_.ok()) std::fprintf(stderr, "rpc_bench: agent: %s\n", status_.ToString().c_str());
  agent_.reset();
  std::error_code ec;
  std::filesystem::remove_all(work_dir_, ec);
}

// ---------------------------------------------------------------------------------------------
// Page faults.

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

std::pair<uint64_t, uint64_t> FaultCounter::Now() const {
  const uint64_t here = MinorFaultsOf(::getpid());
  uint64_t total = here;
  for (pid_t child : children_) total += MinorFaultsOf(child);
  return {total, here};
}

// ---------------------------------------------------------------------------------------------
// The fixture.

Status RunModel(const ExecutorModule& executor, const NDArray& input) {
  ASSIGN_OR_RETURN(NDArray output, ModelOutput(executor, input));
  benchmark::DoNotOptimize(output.data());
  return Status::Ok();
}

Status RunModelInOneRoundTrip(rpc::RemoteSession& session, const ExecutorModule& executor,
                              const NDArray& input) {
  ASSIGN_OR_RETURN(NDArray output, SequenceOutput(session, executor, input));
  benchmark::DoNotOptimize(output.data());
  return Status::Ok();
}

StatusOr<bool> UploadBeginOnly(rpc::RemoteSession& remote, const std::string& label,
                               const std::string& digest, size_t size) {
  ASSIGN_OR_RETURN(
      rpc::ParsedMessage reply,
      remote.core()->endpoint().Call(rpc::MessageType::kUploadBegin, 3, [&](rpc::MessageWriter& w) {
        w.packer().pack(label);
        w.packer().pack(digest);
        w.packer().pack(static_cast<uint64_t>(size));
      }));
  RETURN_IF_ERROR(rpc::CheckBodySize(reply, 1));
  return rpc::ReadBool(reply.item(0), "complete");
}

// Prepares the arrays and uploads, and runs every path once: each Ferry copy is checked byte
// for byte, each raw exchange for its sizes.
Status PrepareFixture(Fixture& f) {
  rpc::RemoteSession& remote = *f.remote;
  ASSIGN_OR_RETURN(f.echo, remote.GetFunction("ferry.echo"));
  RETURN_IF_ERROR(f.echo.CallPacked({}).status().WithContext("ferry.echo()"));
  for (SecureSession& s : f.secure) {
    ASSIGN_OR_RETURN(s.echo, s.remote->GetFunction("ferry.echo"));
    RETURN_IF_ERROR(s.echo.CallPacked({}).status().WithContext(s.name + ": ferry.echo()"));
  }
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
    for (const SecureSession& s : f.secure) {
      ASSIGN_OR_RETURN(NDArray secure_remote,
                       s.remote->Empty({static_cast<int64_t>(bytes)}, DataType::UInt8(),
                                       s.remote->Cpu(0)));
      std::memset(c.host_dst.data(), 0, bytes);
      RETURN_IF_ERROR(secure_remote.CopyFrom(c.host_src).WithContext(s.name));
      RETURN_IF_ERROR(c.host_dst.CopyFrom(secure_remote).WithContext(s.name));
      if (std::memcmp(c.host_src.data(), c.host_dst.data(), bytes) != 0) {
        return InternalError("a " + SizeName(bytes) + " round trip through session " + s.name +
                             " changed bytes");
      }
      c.secure_remote.push_back(std::move(secure_remote));
    }
    {
      // The process's first host array of this size: fresh pages (timed ones may reuse its
      // memory, as a loop of copies to new host arrays would).
      const auto start = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(NDArray copied, c.remote.CopyTo(Device::Cpu()));
      f.first_copyto_seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (std::memcmp(c.host_src.data(), copied.data(), bytes) != 0) {
        return InternalError("CopyTo(Cpu()) of " + SizeName(bytes) + " changed bytes");
      }
    }
    if (bytes == kCopySizes[0]) {
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
  for (const SecureSession& s : f.secure) {
    RETURN_IF_ERROR(s.remote->UploadBytes(f.fresh_upload, "check.bin").WithContext(s.name));
  }
  ASSIGN_OR_RETURN(bool complete,
                   UploadBeginOnly(remote, "cached.bin", f.cached_digest, f.cached_upload.size()));
  if (!complete) return InternalError("the agent did not find a file it has just stored");
  return PrepareModel(f);
}

}  // namespace ferry::bench
