#include "rpc/chunk_stream.h"

#include <algorithm>
#include <deque>

namespace ferry::rpc {

ChunkSizer::ChunkSizer(size_t* memory)
    : memory_(memory), next_(memory != nullptr && *memory != 0 ? *memory : kFirstChunkBytes) {}

void ChunkSizer::Acknowledged(uint64_t bytes, bool cut_short) {
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  if (seconds <= 0) return;
  const double fits = static_cast<double>(bytes) / seconds * kChunkSeconds;
  const size_t size =
      static_cast<size_t>(std::clamp(fits, double{kMinChunkBytes}, double{kChunkBytes}));
  next_ = cut_short ? std::max(next_, size) : size;
  if (memory_ != nullptr) *memory_ = next_;
}

Status StreamChunks(uint64_t begin, uint64_t end, ChunkSizer& sizer, const ChunkStream& stream) {
  std::deque<ChunkInFlight> in_flight;
  auto acknowledge_oldest = [&]() -> Status {
    const ChunkInFlight chunk = in_flight.front();
    RETURN_IF_ERROR(stream.receive(chunk));
    in_flight.pop_front();
    sizer.Acknowledged(chunk.size, chunk.cut_short);
    if (stream.progress) stream.progress(chunk.offset + chunk.size);
    return Status::Ok();
  };
  for (uint64_t offset = begin; offset < end;) {
    const size_t size = static_cast<size_t>(std::min<uint64_t>(sizer.next(), end - offset));
    ASSIGN_OR_RETURN(uint64_t id, stream.send(offset, size));
    in_flight.push_back({id, offset, size, size < sizer.next()});
    offset += size;
    if (in_flight.size() >= static_cast<size_t>(kCopyWindow)) RETURN_IF_ERROR(acknowledge_oldest());
  }
  while (!in_flight.empty()) RETURN_IF_ERROR(acknowledge_oldest());
  return Status::Ok();
}

Status FinishLoan(SessionEndpoint& endpoint, FrameLoan& loan, Status status) {
  if (loan.Wait(Clock::now() + endpoint.timeout())) return status;
  Status abandoned = endpoint.Abandon(
      "ZeroMQ still held " + std::to_string(loan.outstanding()) + " frames of a transfer " +
      std::to_string(endpoint.timeout().count()) + " ms after it ended; the session was abandoned");
  return status.ok() ? abandoned : status;
}

}  // namespace ferry::rpc
