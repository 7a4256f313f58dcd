// Streaming a transfer as windowed chunk requests (docs/protocol.md, "Bulk transfers"): the one
// send loop behind host <-> remote array copies, uploads and downloads.
//
//   ChunkSizer sizer(endpoint.chunk_bytes_to_remote());
//   Status s = StreamChunks(0, bytes, sizer, {
//       .send = [&](uint64_t offset, size_t size) { return endpoint.Send(...); },
//       .receive = [&](const ChunkInFlight& chunk) { return endpoint.Await(chunk.id).status(); }});
//
// Chunks go out at increasing offsets, at most kCopyWindow unacknowledged; the next is sent
// when the oldest reply has been received. The caller holds the session's call lock
// (SessionEndpoint::Lock) for the whole transfer.
#ifndef FERRY_RPC_CHUNK_STREAM_H_
#define FERRY_RPC_CHUNK_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "rpc/channel.h"
#include "rpc/frame_loan.h"
#include "rpc/session_endpoint.h"

namespace ferry::rpc {

// The size of the next chunk: it follows the rate at which the peer acknowledges chunks, so
// that one chunk takes about a second on the link, between kMinChunkBytes and kChunkBytes. A
// chunk must arrive whole within the connection's heartbeat timeout (ZeroMQ counts only whole
// messages as traffic and drops a connection silent for 5 s), which a fixed 4 MiB chunk does
// not on a link slower than about 8 Mbit/s.
//
// A session remembers the size each direction's last transfer reached (`memory`, see
// SessionEndpoint::chunk_bytes_to_remote), and the next transfer that way starts from it; a
// session's first starts at kFirstChunkBytes, which a link of 1 Mbit/s carries in about 2 s.
// On a fast link a transfer of up to kChunkBytes is then one request: splitting it only adds
// per-message costs. A chunk cut short by the end of its transfer is acknowledged sooner than
// a full one would be, so it may raise the size but never lowers it.
class ChunkSizer {
 public:
  static constexpr size_t kFirstChunkBytes = size_t{256} << 10;
  static constexpr size_t kMinChunkBytes = size_t{64} << 10;

  // Starts from `*memory` (kFirstChunkBytes when it is 0) and keeps it up to date; `memory`
  // may be null, and must outlive the sizer.
  explicit ChunkSizer(size_t* memory = nullptr);

  size_t next() const { return next_; }
  // A chunk of `bytes` was acknowledged now; `cut_short` when the sizer had allowed more.
  void Acknowledged(uint64_t bytes, bool cut_short = false);

 private:
  static constexpr double kChunkSeconds = 1.0;
  size_t* memory_;
  size_t next_;
  Clock::time_point last_ = Clock::now();
};

// A chunk request sent and not yet acknowledged.
struct ChunkInFlight {
  uint64_t id = 0;      // its request id
  uint64_t offset = 0;  // where its bytes start in the transfer
  size_t size = 0;
  bool cut_short = false;  // smaller than the sizer allowed: the transfer's end
};

struct ChunkStream {
  // Sends the request for bytes [offset, offset + size); returns its request id.
  std::function<StatusOr<uint64_t>(uint64_t offset, size_t size)> send = nullptr;
  // Waits for the reply to `chunk` (always the oldest in flight) and uses it.
  std::function<Status(const ChunkInFlight& chunk)> receive = nullptr;
  // After each acknowledgement: the offset up to which every chunk is acknowledged. Optional.
  std::function<void(uint64_t done)> progress = nullptr;
};

// Streams bytes [begin, end) as chunks sized by `sizer`. Returns the first error of `send` or
// `receive`; chunks still in flight then are left to SessionEndpoint::Await, which skips their
// replies.
Status StreamChunks(uint64_t begin, uint64_t end, ChunkSizer& sizer, const ChunkStream& stream);

// Ends a transfer whose frames `loan` lent to ZeroMQ (frame_loan.h), with the transfer's
// `status`: waits for ZeroMQ to release them until the session's timeout, and when it has not
// by then (a connection that neither delivers nor drops them), abandons the session's
// connections (SessionEndpoint::Abandon), so that ZeroMQ drops what it still holds. Returns
// `status`, or the abandonment's kUnavailable when `status` was OK. Under the call lock.
Status FinishLoan(SessionEndpoint& endpoint, FrameLoan& loan, Status status);

}  // namespace ferry::rpc

#endif  // FERRY_RPC_CHUNK_STREAM_H_
