// RemoteSession: the client API of a session with a device agent, in TVM's shape.
//
//   auto remote = ferry::rpc::Connect("tcp://127.0.0.1:9190").value();
//   remote.Upload("model.so");
//   ferry::Module lib = remote.LoadModule("model.so").value();
//   ferry::Module gmod = lib.GetFunction("cnn").value()(remote.Cpu(0)).As<ferry::Module>().value();
//   ferry::ExecutorModule(gmod).SetInput("data", x);   // the runtime's wrapper, unchanged
//
// Every call has a deadline (ConnectOptions::timeout, adjustable): a dead agent or worker
// gives kUnavailable or kDeadlineExceeded, never a hang. Remote objects release their
// handles when their last local reference goes; the session closes when the RemoteSession
// and every remote object are gone (or at Close()).
#ifndef FERRY_RPC_CLIENT_SESSION_H_
#define FERRY_RPC_CLIENT_SESSION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rpc/remote_objects.h"
#include "rpc/retry.h"
#include "rpc/session_core.h"
#include "rpc/session_files.h"
#include "rpc/zmq_channel.h"
#include "runtime/module.h"
#include "runtime/time_evaluator.h"

namespace ferry::rpc {

struct ConnectOptions {
  // Deadline of each call (and of opening the session).
  std::chrono::milliseconds timeout{30000};
  ZmqChannelOptions channel;
  // Protocol versions offered; tests narrow them to provoke a mismatch.
  uint32_t min_version = kMinProtocolVersion;
  uint32_t max_version = kMaxProtocolVersion;
  // A tracker's ticket for this agent (tracker_client.h); required by agents under a tracker.
  std::string ticket;
  // With CURVE, copies and upload chunks travel on the worker's bulk connection, sealed with
  // AES-256-GCM (docs/protocol.md, "Bulk path"), when the worker offers one; false keeps
  // everything on the CURVE connection (slower; for comparison and for networks that let
  // only the worker's port through).
  bool use_bulk_path = true;
  // How opening a session, and a tracker's device and status requests, are retried when the
  // peer's connection is lost (rpc/retry.h); always within the call's deadline.
  RetryPolicy retry;
  // Calls ask for CPU array results of up to this many bytes to come with their bytes, so
  // that copying such a result to the host right after the call costs no round trip
  // (docs/protocol.md, "Tensors in calls"); 0 asks for none.
  uint64_t inline_result_bytes = kInlineResultBytes;
};

class RemoteSession {
 public:
  // Wraps an open session (used by Connect and by tests over in-memory channels).
  explicit RemoteSession(ObjectPtr<SessionCore> core) : core_(std::move(core)) {}

  // Devices of the remote machine, to pass to factories and Empty.
  Device Cpu(int id = 0) const { return Device::Remote(Device::Cpu(id)); }
  Device Cuda(int id = 0) const { return Device::Remote(Device::Cuda(id)); }

  // Uploads a local file as `label` (default: its file name). The agent keeps content by
  // SHA-256, so re-uploading a file it has costs one round trip; the session remembers the
  // digests of files it uploaded (by device, inode, size and modification time), so an
  // unchanged file is not read or hashed again. Errors: kNotFound (local
  // file), the agent's errors (bad label: kInvalidArgument).
  Status Upload(const std::string& local_path, const std::string& label = "");
  // Uploads bytes as `label`.
  Status UploadBytes(std::string_view data, const std::string& label);
  StatusOr<std::string> Download(const std::string& label);
  StatusOr<std::vector<FileEntry>> ListFiles();
  Status RemoveFile(const std::string& label);

  // Loads an uploaded model library in the session (load_module on the agent).
  StatusOr<Module> LoadModule(const std::string& label);
  // A global function of the session (e.g. "ferry.echo").
  StatusOr<PackedFunc> GetFunction(const std::string& name);
  // A new array on remote device `device` (from Cpu() / Cuda()).
  StatusOr<NDArray> Empty(std::vector<int64_t> shape, DataType dtype, Device device);
  // Attributes of a remote device; exists == false when it has none.
  DeviceAttributes GetDeviceAttributes(Device device);

  // TVM's time_evaluator run on the agent: the returned function takes `name`'s arguments,
  // runs the measurement there and returns a host NDArray of float64 [repeat] seconds.
  StatusOr<PackedFunc> TimeEvaluator(const Module& module, const std::string& name, Device device,
                                     TimeEvaluatorOptions options);

  // Calls functions of this session in order in one round trip, returning every result:
  // set_input, run and get_output of a model cost one round trip instead of three. See
  // CallSequence in remote_objects.h for the errors.
  StatusOr<std::vector<Value>> CallSequence(std::span<const RemoteCall> calls) {
    return rpc::CallSequence(*core_, calls);
  }
  // Ends the session now (the agent frees everything it held). Later calls fail.
  Status Close() { return core_->endpoint().Close(); }

  // Called on the uploading thread each time the agent acknowledges a chunk of an upload
  // (Upload, UploadBytes), with the bytes acknowledged so far and the file's size; not for an
  // upload the agent already holds. A deadline bounds each chunk's progress (the session's
  // call timeout from the previous acknowledgement), never the whole transfer.
  using UploadProgress = std::function<void(uint64_t done, uint64_t total)>;
  void set_upload_progress(UploadProgress progress) { upload_progress_ = std::move(progress); }

  void set_timeout(std::chrono::milliseconds timeout) { core_->endpoint().set_timeout(timeout); }
  const std::string& session_id() const { return core_->endpoint().session_id(); }
  SessionCore* core() const { return core_.get(); }

 private:
  StatusOr<uint64_t> ModuleHandle(const Module& module) const;
  // UploadBegin: whether the agent already has the content.
  StatusOr<bool> BeginUpload(const std::string& label, const std::string& digest, uint64_t size);
  // The chunks (windowed) and UploadEnd.
  Status SendUpload(const std::string& label, std::string_view data);
  ObjectPtr<SessionCore> core_;
  UploadProgress upload_progress_;
};

// Opens a session with the agent at `agent_endpoint`: negotiates the protocol version, gets
// a session worker of its own and connects to it directly. Errors: kUnavailable or
// kDeadlineExceeded when the agent does not answer in time; kUnimplemented for a protocol
// version mismatch (naming both ranges); the agent's errors.
StatusOr<RemoteSession> Connect(const std::string& agent_endpoint,
                                const ConnectOptions& options = {});

}  // namespace ferry::rpc

#endif  // FERRY_RPC_CLIENT_SESSION_H_
