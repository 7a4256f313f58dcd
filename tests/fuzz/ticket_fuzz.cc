// Fuzz target: session tickets (rpc::VerifyTicket), as an agent checks the ticket a client
// presents.
//
// Input: the first byte chooses the mode, the rest is text.
//   even: the text is the ticket as presented.
//   odd:  the text is the signed payload; the target appends "|" and its correct HMAC, so
//         the field parsing behind the signature is reached.
// Properties: never crashes; every error is kPermissionDenied; a ticket that verifies signs
// again to the same text when it was signed here.
#include "rpc/ticket.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::rpc;

namespace {
constexpr std::string_view kSecret = fuzz::kFuzzSecret;
constexpr int64_t kNowMs = fuzz::kFuzzNowMs;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(fuzz::AsView(data + 1, size - 1));
  if (data[0] & 1) text += "|" + HmacSha256Hex(text, kSecret);
  StatusOr<Ticket> ticket = VerifyTicket(text, kSecret, kNowMs);
  if (!ticket.ok()) {
    if (ticket.status().code() != StatusCode::kPermissionDenied) {
      fuzz::Fail("VerifyTicket error is not kPermissionDenied", ticket.status().ToString());
    }
    return 0;
  }
  if (ticket->expiry_ms <= kNowMs) fuzz::Fail("an expired ticket verified");
  StatusOr<std::string> again = SignTicket(*ticket, kSecret);
  if (!again.ok()) fuzz::Fail("a verified ticket does not sign", again.status().ToString());
  if (!VerifyTicket(*again, kSecret, kNowMs).ok()) fuzz::Fail("a re-signed ticket does not verify");
  return 0;
}
