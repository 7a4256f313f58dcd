// Fuzz target: a whole session as a worker serves it (rpc/session_server.h SessionServer::
// Handle): the Hello handshake that binds the session to its connection and offers the bulk
// path's key, then any sequence of requests through the handler table, the value codec and the
// handle table.
//
// Input: the first byte chooses the mode (even: a correct Hello from connection "client" is
// served first, so the requests behind the handshake are reached; odd: not), the rest is a
// list of messages in the frame encoding of fuzz_util.h (each outer frame one message). A
// message's first byte chooses its connection (even: "client", odd: "intruder"); the rest are
// its frames, again in that encoding. TimeEvaluator requests are skipped (they run for as long
// as they are told to); the server has no session files (file requests are kUnimplemented).
// Properties: Handle never crashes; a Hello whose token is wrong never binds the session; once
// bound, every reply to the other connection is an error and the session stays bound. (The
// first connection to present the token binds the session, whichever it is: with the odd mode
// that may be "intruder", which then owns the session and "client" is the one refused.)
#include "rpc/frame_sealer.h"
#include "rpc/session_server.h"
#include "runtime/function_registry.h"
#include "runtime/value.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::rpc;

namespace {

constexpr std::string_view kToken = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kClient = "client";
constexpr std::string_view kIntruder = "intruder";

Frames CorrectHello() {
  MessageWriter w = MessageWriter::Request(MessageType::kHello, 1, 5000, 1);
  w.packer().pack(std::string(kToken));
  return std::move(w).Finish();
}

Frames Copy(const Frames& frames) {
  Frames out;
  for (const zmq::message_t& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

// What the request claims to be: its type, and for a Hello its token ("" when unreadable).
struct Claim {
  bool parsed = false;
  MessageType type{};
  std::string token;
};

Claim ClaimOf(const Frames& frames) {
  Claim claim;
  StatusOr<ParsedMessage> m = ParseMessage(Copy(frames), ProtocolLimits{});
  if (!m.ok()) return claim;
  claim.parsed = true;
  claim.type = m->type;
  if (m->type == MessageType::kHello && m->body_size() >= 1) {
    claim.token = ReadString(m->item(0), "token").value_or("");
  }
  return claim;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  SessionServerOptions options;
  options.token = std::string(kToken);
  options.max_array_bytes = 1 << 20;
  options.bulk_port = 4242;
  options.bulk_key = std::string(kBulkKeyBytes, '\x42');
  FunctionRegistry globals;
  (void)globals.Register("ferry.echo",
                         PackedFunc([](std::span<const Value> args) -> StatusOr<Value> {
                           return args.empty() ? Value() : args[0];
                         }));
  SessionServer server(&globals, nullptr, options);
  std::string_view owner;  // the connection the session is bound to, once it is
  if (!(data[0] & 1)) {
    (void)server.Handle(CorrectHello(), kClient);
    if (!server.greeted()) fuzz::Fail("the correct Hello did not bind the session");
    owner = kClient;
  }
  for (const zmq::message_t& message : fuzz::SplitFrames(fuzz::AsView(data + 1, size - 1))) {
    const std::string_view bytes(static_cast<const char*>(message.data()), message.size());
    if (bytes.empty()) continue;
    const bool intruder = bytes[0] & 1;
    Frames frames = fuzz::SplitFrames(bytes.substr(1));
    const Claim claim = ClaimOf(frames);
    if (claim.parsed && claim.type == MessageType::kTimeEvaluator) continue;
    const bool was_greeted = server.greeted();
    const std::string_view connection = intruder ? kIntruder : kClient;
    std::optional<Frames> reply = server.Handle(std::move(frames), connection);
    if (!was_greeted && server.greeted()) {
      if (claim.token != kToken) fuzz::Fail("a Hello with a wrong token bound the session");
      owner = connection;
    }
    if (was_greeted && !server.greeted()) fuzz::Fail("the session came unbound");
    if (was_greeted && connection != owner && reply.has_value()) {
      StatusOr<ParsedMessage> answer = ParseMessage(std::move(*reply), ProtocolLimits{});
      if (!answer.ok()) fuzz::Fail("the server's reply does not parse", answer.status().ToString());
      // PERMISSION_DENIED, or INVALID_ARGUMENT for a request too malformed to read.
      if (answer->status.ok()) fuzz::Fail("a connection the session is not bound to was served");
    }
    if (server.close_requested()) break;
  }
  return 0;
}
