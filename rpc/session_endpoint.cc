#include "rpc/session_endpoint.h"

#include <algorithm>

namespace ferry::rpc {
namespace {

constexpr auto kDiagnoseTimeout = std::chrono::milliseconds(2000);
constexpr auto kCloseTimeout = std::chrono::milliseconds(1000);

}  // namespace

SessionEndpoint::SessionEndpoint(std::unique_ptr<Channel> worker, std::unique_ptr<Channel> agent,
                                 std::string session_id, std::chrono::milliseconds timeout,
                                 std::unique_ptr<SealedChannel> bulk)
    : worker_(std::move(worker)),
      agent_(std::move(agent)),
      bulk_(std::move(bulk)),
      session_id_(std::move(session_id)),
      timeout_(timeout) {}

SessionEndpoint::~SessionEndpoint() { (void)Close(); }

void SessionEndpoint::Release(uint64_t handle) {
  std::lock_guard lock(release_mutex_);
  pending_releases_.push_back(handle);
}

Status SessionEndpoint::FlushReleases(Deadline deadline) {
  std::vector<uint64_t> releases;
  {
    std::lock_guard lock(release_mutex_);
    releases.swap(pending_releases_);
  }
  if (releases.empty()) return Status::Ok();
  MessageWriter w = MessageWriter::Request(MessageType::kReleaseHandles, next_request_id_++,
                                           MillisecondsUntil(deadline), 1);
  w.packer().pack(releases);
  return worker_->Send(std::move(w).Finish(), deadline);
}

StatusOr<uint64_t> SessionEndpoint::Send(MessageType type, uint32_t body_size,
                                         const PackBody& pack) {
  if (!lost_.ok()) return lost_;
  if (closed_) return UnavailableError("the session is closed");
  const Deadline deadline = Clock::now() + timeout_;
  Status flushed = FlushReleases(deadline);
  if (!flushed.ok()) return flushed;
  // Any request may change any array: replies before it are stale from here on.
  ++requests_sent_;
  const uint64_t id = next_request_id_++;
  MessageWriter w = MessageWriter::Request(type, id, MillisecondsUntil(deadline), body_size);
  pack(w);
  const bool on_bulk = bulk_ != nullptr && IsBulkMessageType(type);
  Status sent = (on_bulk ? *bulk_ : *worker_).Send(std::move(w).Finish(), deadline);
  if (sent.code() == StatusCode::kUnavailable) return DiagnoseLostWorker(sent);
  RETURN_IF_ERROR(sent);
  if (on_bulk) bulk_ids_.insert(id);
  return id;
}

StatusOr<ParsedMessage> SessionEndpoint::Await(uint64_t request_id, std::span<char> payload_into) {
  if (!lost_.ok()) return lost_;
  const Deadline deadline = Clock::now() + timeout_;
  Channel* channel = worker_.get();
  if (auto it = bulk_ids_.find(request_id); it != bulk_ids_.end()) {
    // Earlier bulk requests whose replies were never awaited are skipped below.
    bulk_ids_.erase(bulk_ids_.begin(), std::next(it));
    channel = bulk_.get();
  }
  const bool open_into = channel == bulk_.get() && !payload_into.empty();
  while (true) {
    StatusOr<std::optional<Frames>> received =
        open_into ? bulk_->ReceiveInto(deadline, {.index = 1, .bytes = payload_into})
                  : channel->Receive(deadline);
    if (!received.ok()) {
      // A bulk reply that does not open is not a lost worker.
      if (channel == bulk_.get() && received.status().code() != StatusCode::kUnavailable) {
        return received.status();
      }
      return DiagnoseLostWorker(received.status());
    }
    if (!received->has_value()) {
      return DeadlineExceededError("no reply from session " + session_id_ + " within " +
                                   std::to_string(timeout_.count()) + " ms");
    }
    StatusOr<ParsedMessage> reply = ParseMessage(std::move(**received), ProtocolLimits{});
    if (!reply.ok()) return reply.status().WithContext("reply from session " + session_id_);
    if (reply->type != MessageType::kReply) {
      return InvalidArgumentError("session " + session_id_ + " sent a request to the client");
    }
    // A reply to an earlier request that timed out, or id 0: a message the server could not
    // parse (its error is ours).
    if (reply->request_id == 0) return reply->status;
    if (reply->request_id < request_id) continue;
    if (reply->request_id != request_id) {
      return InternalError("reply " + std::to_string(reply->request_id) +
                           " arrived while waiting for " + std::to_string(request_id));
    }
    if (!reply->status.ok()) return reply->status;
    return reply;
  }
}

StatusOr<ParsedMessage> SessionEndpoint::Call(MessageType type, uint32_t body_size,
                                              const PackBody& pack) {
  auto lock = Lock();
  ASSIGN_OR_RETURN(uint64_t id, Send(type, body_size, pack));
  return Await(id);
}

Status SessionEndpoint::DiagnoseLostWorker(const Status& lost) {
  if (!lost_.ok()) return lost_;
  std::string reason = "connection to the session worker lost (" + lost.message() + ")";
  if (agent_ != nullptr) {
    const Deadline deadline = Clock::now() + kDiagnoseTimeout;
    MessageWriter w =
        MessageWriter::Request(MessageType::kSessionStatus, 1, MillisecondsUntil(deadline), 1);
    w.packer().pack(session_id_);
    Status sent = agent_->Send(std::move(w).Finish(), deadline);
    StatusOr<std::optional<Frames>> answer =
        sent.ok() ? agent_->Receive(deadline) : StatusOr<std::optional<Frames>>(sent);
    if (answer.ok() && answer->has_value()) {
      StatusOr<ParsedMessage> parsed = ParseMessage(std::move(**answer), ProtocolLimits{});
      if (parsed.ok() && parsed->status.ok() && parsed->body_size() >= 2) {
        const bool alive = ReadBool(parsed->item(0), "alive").value_or(true);
        const std::string why = ReadString(parsed->item(1), "reason").value_or("");
        if (!alive && !why.empty()) reason = why;
      }
    } else {
      reason += "; the agent does not answer either";
    }
  }
  lost_ = UnavailableError(reason);
  return lost_;
}

Status SessionEndpoint::Abandon(const std::string& why) {
  if (lost_.ok()) lost_ = UnavailableError(why);
  // Closing the sockets (linger 0) makes ZeroMQ drop whatever it still queues for them.
  bulk_.reset();
  worker_.reset();
  bulk_ids_.clear();
  return lost_;
}

Status SessionEndpoint::Close() {
  auto lock = Lock();
  if (closed_ || !lost_.ok()) {
    closed_ = true;
    return Status::Ok();
  }
  const auto saved = timeout_;
  timeout_ = std::min(timeout_, std::chrono::milliseconds(kCloseTimeout));
  StatusOr<uint64_t> id = Send(MessageType::kCloseSession, 0, [](MessageWriter&) {});
  Status status = id.ok() ? Await(*id).status() : id.status();
  // The worker exits right after its reply; when the connection drops first, ZeroMQ may
  // discard the reply. The session has ended either way, which is what Close asked for.
  if (id.ok() && status.code() == StatusCode::kUnavailable) status = Status::Ok();
  timeout_ = saved;
  closed_ = true;
  return status;
}

}  // namespace ferry::rpc
