// Fuzz target: the signed agent -> tracker messages (rpc/agent_heartbeat.h), as the tracker
// verifies them under its secret.
//
// Input: the first byte chooses the mode, the rest is the payload.
//   even: the payload is a whole message (frames in the encoding of fuzz_util.h), verified
//         as sent: the signature check and its error paths.
//   odd:  the payload is the signed bytes; the target wraps them in a correctly signed
//         AgentHeartbeat (bit 1 clear) or AgentGoodbye (bit 1 set), so the decoder behind the
//         signature is reached.
// Properties: never crashes; errors are kPermissionDenied or kInvalidArgument; a signed body
// always passes the signature check (never kPermissionDenied).
// RequestDevice and TrackerStatus replies are parsed inside TrackerClient's socket calls and
// are not reachable here.
#include "rpc/agent_heartbeat.h"
#include "rpc/ticket.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::rpc;

namespace {

constexpr std::string_view kSecret = fuzz::kFuzzSecret;

void ExpectVerifyError(const Status& s, bool signed_body) {
  if (s.ok()) return;
  if (s.code() == StatusCode::kPermissionDenied && !signed_body) return;
  if (s.code() == StatusCode::kInvalidArgument) return;
  fuzz::Fail("unexpected error", s.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view payload = fuzz::AsView(data + 1, size - 1);
  Frames frames;
  if (mode & 1) {
    const bool goodbye = mode & 2;
    MessageWriter w = MessageWriter::Request(
        goodbye ? MessageType::kAgentGoodbye : MessageType::kAgentHeartbeat, 0, 1000, 2);
    w.packer().pack_bin(static_cast<uint32_t>(payload.size()));
    w.packer().pack_bin_body(payload.data(), static_cast<uint32_t>(payload.size()));
    w.packer().pack(HmacSha256Hex(payload, kSecret));
    frames = std::move(w).Finish();
  } else {
    frames = fuzz::SplitFrames(payload);
  }
  StatusOr<ParsedMessage> parsed = ParseMessage(std::move(frames), ProtocolLimits{});
  if (!parsed.ok()) {
    if (mode & 1) fuzz::Fail("a signed message does not parse", parsed.status().ToString());
    return 0;
  }
  const bool signed_body = mode & 1;
  if (parsed->type == MessageType::kAgentHeartbeat) {
    StatusOr<Verified<AgentHeartbeat>> v = VerifyAgentHeartbeat(*parsed, kSecret);
    ExpectVerifyError(v.status(), signed_body);
  } else if (parsed->type == MessageType::kAgentGoodbye) {
    StatusOr<Verified<AgentGoodbye>> v = VerifyAgentGoodbye(*parsed, kSecret);
    ExpectVerifyError(v.status(), signed_body);
  } else {
    (void)VerifyAgentHeartbeat(*parsed, kSecret);
    (void)VerifyAgentGoodbye(*parsed, kSecret);
  }
  return 0;
}
