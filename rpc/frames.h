// Frames: one multipart message as it travels, frame 0 the msgpack header and frames 1.. its
// bulk bytes (protocol.h). A frame is a zmq::message_t by design: received frames are used in
// place and sent ones may lend their bytes (frame_loan.h), so no layer copies them into
// another type. The protocol's constants and message types (protocol.h) do not need this.
#ifndef FERRY_RPC_FRAMES_H_
#define FERRY_RPC_FRAMES_H_

#include <vector>
#include <zmq.hpp>

namespace ferry::rpc {

using Frames = std::vector<zmq::message_t>;

}  // namespace ferry::rpc

#endif  // FERRY_RPC_FRAMES_H_
