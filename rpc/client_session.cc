#include "rpc/client_session.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "rpc/chunk_stream.h"
#include "rpc/frame_loan.h"
#include "rpc/remote_objects.h"
#include "rpc/retry.h"
#include "rpc/sealed_channel.h"
#include "runtime/file_util.h"
#include "util/hex.h"

#include <openssl/evp.h>

namespace ferry::rpc {
namespace {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return util::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// Sends one request over `channel` and waits for its reply (used before a session exists).
StatusOr<ParsedMessage> CallOnce(Channel& channel, Frames request, uint64_t id,
                                 Deadline deadline) {
  RETURN_IF_ERROR(channel.Send(std::move(request), deadline));
  while (true) {
    ASSIGN_OR_RETURN(std::optional<Frames> frames, channel.Receive(deadline));
    if (!frames) return DeadlineExceededError("the agent did not answer in time");
    ASSIGN_OR_RETURN(ParsedMessage reply, ParseMessage(std::move(*frames), ProtocolLimits{}));
    if (reply.request_id != id && reply.request_id != 0) continue;
    if (!reply.status.ok()) return reply.status;
    return reply;
  }
}

// The bulk channel a CURVE worker offers in its Hello reply [bulk_port, bulk_key]: a plain
// connection to that port on the worker's host, sealed under the key.
StatusOr<std::unique_ptr<SealedChannel>> OpenBulkChannel(std::shared_ptr<zmq::context_t> context,
                                                   const std::string& worker_endpoint,
                                                   const ParsedMessage& hello_reply,
                                                   const ZmqChannelOptions& worker_options) {
  ASSIGN_OR_RETURN(uint64_t port, ReadUint(hello_reply.item(0), "bulk port"));
  const msgpack::object& key = hello_reply.item(1);
  if (port == 0 || port > 65535) return InvalidArgumentError("bad bulk port " + std::to_string(port));
  if (key.type != msgpack::type::BIN || key.via.bin.size != kBulkKeyBytes) {
    return InvalidArgumentError("the bulk key must be " + std::to_string(kBulkKeyBytes) +
                                " bytes of msgpack bin");
  }
  const size_t colon = worker_endpoint.rfind(':');
  if (colon == std::string::npos) return InvalidArgumentError("bad worker endpoint " + worker_endpoint);
  const std::string endpoint = worker_endpoint.substr(0, colon + 1) + std::to_string(port);
  ZmqChannelOptions plain;
  plain.max_message_bytes = worker_options.max_message_bytes;
  plain.heartbeat_interval_ms = worker_options.heartbeat_interval_ms;
  plain.heartbeat_timeout_ms = worker_options.heartbeat_timeout_ms;
  ASSIGN_OR_RETURN(std::unique_ptr<ZmqChannel> channel,
                   ZmqChannel::Connect(std::move(context), endpoint, plain));
  return SealedChannel::Create(std::move(channel),
                               std::string_view(key.via.bin.ptr, key.via.bin.size),
                               SealDirection::kClientToWorker);
}

}  // namespace

StatusOr<RemoteSession> Connect(const std::string& agent_endpoint, const ConnectOptions& options) {
  auto context = std::make_shared<zmq::context_t>(1);
  const Deadline deadline = Clock::now() + options.timeout;
  // Opening is retried on a lost connection (retry.h): until the agent answers, no session
  // exists there, and a ticket the agent did take is refused the second time.
  std::unique_ptr<ZmqChannel> agent;
  StatusOr<ParsedMessage> opened = RetryUnavailable<ParsedMessage>(
      options.retry, deadline, [&](int) -> StatusOr<ParsedMessage> {
        ASSIGN_OR_RETURN(agent, ZmqChannel::Connect(context, agent_endpoint, options.channel));
        MessageWriter open = MessageWriter::Request(MessageType::kOpenSession, 1,
                                                    MillisecondsUntil(deadline),
                                                    options.ticket.empty() ? 2 : 3);
        open.packer().pack(options.min_version);
        open.packer().pack(options.max_version);
        if (!options.ticket.empty()) open.packer().pack(options.ticket);
        return CallOnce(*agent, std::move(open).Finish(), 1, deadline);
      });
  if (!opened.ok()) return opened.status().WithContext("opening a session with " + agent_endpoint);
  RETURN_IF_ERROR(CheckBodySize(*opened, 4));
  ASSIGN_OR_RETURN(uint64_t version, ReadUint(opened->item(0), "version"));
  ASSIGN_OR_RETURN(std::string session_id, ReadString(opened->item(1), "session id"));
  ASSIGN_OR_RETURN(std::string worker_endpoint, ReadString(opened->item(2), "worker endpoint"));
  ASSIGN_OR_RETURN(std::string token, ReadString(opened->item(3), "token"));
  if (version < options.min_version || version > options.max_version) {
    return UnimplementedError("the agent chose protocol version " + std::to_string(version) +
                              " outside the offered range");
  }

  ASSIGN_OR_RETURN(std::unique_ptr<ZmqChannel> worker,
                   ZmqChannel::Connect(context, worker_endpoint, options.channel));
  MessageWriter hello = MessageWriter::Request(MessageType::kHello, 1, MillisecondsUntil(deadline), 1);
  hello.packer().pack(token);
  StatusOr<ParsedMessage> greeted = CallOnce(*worker, std::move(hello).Finish(), 1, deadline);
  if (!greeted.ok()) return greeted.status().WithContext("greeting session worker " + worker_endpoint);
  std::unique_ptr<SealedChannel> bulk;
  if (greeted->body_size() >= 2 && options.use_bulk_path && options.channel.curve_identity) {
    StatusOr<std::unique_ptr<SealedChannel>> opened =
        OpenBulkChannel(context, worker_endpoint, *greeted, options.channel);
    if (!opened.ok()) return opened.status().WithContext("the worker's bulk path");
    bulk = std::move(*opened);
  }

  auto core = MakeObject<SessionCore>(std::move(worker), std::move(agent), session_id,
                                      options.timeout, std::move(bulk));
  core->codec().set_inline_result_bytes(options.inline_result_bytes);
  return RemoteSession(std::move(core));
}

Status RemoteSession::Upload(const std::string& local_path, const std::string& label) {
  const std::string name =
      label.empty() ? std::filesystem::path(local_path).filename().string() : label;
  struct stat info;
  if (::stat(local_path.c_str(), &info) != 0) return NotFoundError("no such file: " + local_path);
  const FileStamp stamp{static_cast<uint64_t>(info.st_dev), static_cast<uint64_t>(info.st_ino),
                        static_cast<uint64_t>(info.st_size),
                        info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec};
  // A file uploaded before and unchanged since is not read or hashed again: when the agent
  // has its content, the repeat costs one round trip.
  std::optional<std::string> data;
  std::optional<std::string> digest = core_->digest_cache().Find(local_path, stamp);
  if (!digest) {
    ASSIGN_OR_RETURN(data, ReadFile(local_path));
    digest = Sha256Hex(*data);
    core_->digest_cache().Remember(local_path, stamp, *digest);
  }
  ASSIGN_OR_RETURN(bool complete, BeginUpload(name, *digest, stamp.size));
  if (complete) return Status::Ok();
  if (!data) {
    ASSIGN_OR_RETURN(data, ReadFile(local_path));
  }
  return SendUpload(name, *data);
}

Status RemoteSession::UploadBytes(std::string_view data, const std::string& label) {
  ASSIGN_OR_RETURN(bool complete, BeginUpload(label, Sha256Hex(data), data.size()));
  if (complete) return Status::Ok();
  return SendUpload(label, data);
}

StatusOr<bool> RemoteSession::BeginUpload(const std::string& label, const std::string& digest,
                                          uint64_t size) {
  ASSIGN_OR_RETURN(ParsedMessage begun,
                   core_->endpoint().Call(MessageType::kUploadBegin, 3, [&](MessageWriter& w) {
                     w.packer().pack(label);
                     w.packer().pack(digest);
                     w.packer().pack(size);
                   }));
  RETURN_IF_ERROR(CheckBodySize(begun, 1));
  return ReadBool(begun.item(0), "complete");
}

Status RemoteSession::SendUpload(const std::string& label, std::string_view data) {
  SessionEndpoint& endpoint = core_->endpoint();
  {
    // The chunks' frames refer to `data` (no copy) until ZeroMQ lets go of them.
    FrameLoan loan;
    auto lock = endpoint.Lock();
    ChunkSizer sizer(endpoint.chunk_bytes_to_remote());
    Status sent = StreamChunks(
        0, data.size(), sizer,
        {
            .send =
                [&](uint64_t offset, size_t size) {
                  return endpoint.Send(MessageType::kUploadChunk, 2, [&](MessageWriter& w) {
                    w.packer().pack(label);
                    w.packer().pack(offset);
                    w.AddFrame(loan.Frame(data.data() + offset, size));
                  });
                },
            .receive =
                [&](const ChunkInFlight& chunk) { return endpoint.Await(chunk.id).status(); },
            .progress =
                [&](uint64_t done) {
                  if (upload_progress_) upload_progress_(done, data.size());
                },
        });
    RETURN_IF_ERROR(FinishLoan(endpoint, loan, std::move(sent)));
  }
  return endpoint
      .Call(MessageType::kUploadEnd, 1, [&](MessageWriter& w) { w.packer().pack(label); })
      .status();
}

StatusOr<std::string> RemoteSession::Download(const std::string& label) {
  SessionEndpoint& endpoint = core_->endpoint();
  auto lock = endpoint.Lock();
  const auto request = [&](uint64_t offset, size_t size) {
    return endpoint.Send(MessageType::kDownload, 3, [&](MessageWriter& w) {
      w.packer().pack(label);
      w.packer().pack(offset);
      w.packer().pack(static_cast<uint64_t>(size));
    });
  };
  // Each reply: [file_size] and the chunk. Its bytes go to `data` at `offset`, sized to the
  // file by the first reply.
  std::string data;
  const auto receive = [&](uint64_t id, uint64_t offset, size_t size) -> Status {
    ASSIGN_OR_RETURN(ParsedMessage reply, endpoint.Await(id));
    RETURN_IF_ERROR(CheckBodySize(reply, 1));
    ASSIGN_OR_RETURN(uint64_t file_size, ReadUint(reply.item(0), "file size"));
    ASSIGN_OR_RETURN(const zmq::message_t* chunk, reply.Frame(1));
    if (offset == 0) data.resize(file_size);
    if (file_size != data.size() || chunk->size() != std::min<uint64_t>(size, file_size - offset)) {
      return FailedPreconditionError("'" + label + "' changed during its download (" +
                                     std::to_string(file_size) + " bytes now, chunk of " +
                                     std::to_string(chunk->size()) + " at offset " +
                                     std::to_string(offset) + ")");
    }
    std::memcpy(data.data() + offset, chunk->data(), chunk->size());
    return Status::Ok();
  };
  // The first chunk tells the file's size; the rest stream.
  ChunkSizer sizer(endpoint.chunk_bytes_to_host());
  const size_t first = sizer.next();
  ASSIGN_OR_RETURN(uint64_t id, request(0, first));
  RETURN_IF_ERROR(receive(id, 0, first));
  sizer.Acknowledged(std::min<uint64_t>(first, data.size()), /*cut_short=*/data.size() < first);
  RETURN_IF_ERROR(StreamChunks(
      std::min<uint64_t>(first, data.size()), data.size(), sizer,
      {
          .send = request,
          .receive = [&](const ChunkInFlight& c) { return receive(c.id, c.offset, c.size); },
      }));
  return data;
}

StatusOr<std::vector<FileEntry>> RemoteSession::ListFiles() {
  ASSIGN_OR_RETURN(ParsedMessage reply,
                   core_->endpoint().Call(MessageType::kListFiles, 0, [](MessageWriter&) {}));
  RETURN_IF_ERROR(CheckBodySize(reply, 1));
  ASSIGN_OR_RETURN(const msgpack::object* list, ReadArray(reply.item(0), "files", 0));
  std::vector<FileEntry> files;
  for (uint32_t i = 0; i < list->via.array.size; ++i) {
    ASSIGN_OR_RETURN(const msgpack::object* entry, ReadArray(list->via.array.ptr[i], "file", 2));
    FileEntry f;
    ASSIGN_OR_RETURN(f.label, ReadString(entry->via.array.ptr[0], "label"));
    ASSIGN_OR_RETURN(f.size, ReadUint(entry->via.array.ptr[1], "size"));
    files.push_back(std::move(f));
  }
  return files;
}

Status RemoteSession::RemoveFile(const std::string& label) {
  return core_->endpoint()
      .Call(MessageType::kRemoveFile, 1, [&](MessageWriter& w) { w.packer().pack(label); })
      .status();
}

StatusOr<Module> RemoteSession::LoadModule(const std::string& label) {
  ASSIGN_OR_RETURN(ParsedMessage reply,
                   core_->endpoint().Call(MessageType::kLoadModule, 1,
                                          [&](MessageWriter& w) { w.packer().pack(label); }));
  RETURN_IF_ERROR(CheckBodySize(reply, 1));
  ASSIGN_OR_RETURN(Value module, core_->codec().ReadResult(reply.item(0), reply));
  return module.As<Module>();
}

StatusOr<PackedFunc> RemoteSession::GetFunction(const std::string& name) {
  ASSIGN_OR_RETURN(ParsedMessage reply,
                   core_->endpoint().Call(MessageType::kGetGlobalFunction, 1,
                                          [&](MessageWriter& w) { w.packer().pack(name); }));
  RETURN_IF_ERROR(CheckBodySize(reply, 1));
  ASSIGN_OR_RETURN(Value func, core_->codec().ReadResult(reply.item(0), reply));
  return func.As<PackedFunc>();
}

StatusOr<NDArray> RemoteSession::Empty(std::vector<int64_t> shape, DataType dtype, Device device) {
  if (!device.is_remote()) {
    return InvalidArgumentError(device.ToString() + " is not a device of this session; use Cpu() or Cuda()");
  }
  return core_->codec().AllocArray(shape, dtype, device);
}

DeviceAttributes RemoteSession::GetDeviceAttributes(Device device) {
  return core_->device_api()->GetAttributes(device);
}

StatusOr<uint64_t> RemoteSession::ModuleHandle(const Module& module) const {
  auto* remote = dynamic_cast<RemoteModuleNode*>(module.get());
  if (remote == nullptr || remote->core() != core_.get()) {
    return InvalidArgumentError("the module does not belong to this session");
  }
  return remote->handle();
}

StatusOr<PackedFunc> RemoteSession::TimeEvaluator(const Module& module, const std::string& name,
                                                  Device device, TimeEvaluatorOptions options) {
  ASSIGN_OR_RETURN(uint64_t handle, ModuleHandle(module));
  ASSIGN_OR_RETURN(ParsedMessage reply,
                   core_->endpoint().Call(MessageType::kTimeEvaluator, 7, [&](MessageWriter& w) {
                     auto& p = w.packer();
                     p.pack(handle);
                     p.pack(name);
                     PackDevice(p, device.Local());
                     p.pack(options.number);
                     p.pack(options.repeat);
                     p.pack(options.min_repeat_ms);
                     p.pack(options.cooldown_ms);
                   }));
  RETURN_IF_ERROR(CheckBodySize(reply, 1));
  ASSIGN_OR_RETURN(Value timer_value, core_->codec().ReadResult(reply.item(0), reply));
  ASSIGN_OR_RETURN(PackedFunc timer, timer_value.As<PackedFunc>());
  return PackedFunc([timer](std::span<const Value> args) -> StatusOr<Value> {
    ASSIGN_OR_RETURN(Value result, timer.CallPacked(args));
    ASSIGN_OR_RETURN(NDArray seconds, result.As<NDArray>());
    ASSIGN_OR_RETURN(NDArray host, seconds.CopyTo(Device::Cpu()));
    return Value(host);
  });
}

}  // namespace ferry::rpc
