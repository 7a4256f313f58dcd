// Fuzz target: the text of CURVE keys and authorized-keys files (rpc/curve_keys.h), as an
// agent or tracker reads the keys it admits and a client the key it trusts.
// The input is the text: parsed as an authorized-keys file (ParseAuthorizedKeys), checked as a
// key (IsZ85Key, KeyFingerprint), and read as a public-key file (LoadCurvePublicKey on a
// memfd; the text itself is passed only when it is a key, so fuzzed paths are never opened).
// Properties: never crashes; every key ParseAuthorizedKeys or LoadCurvePublicKey returns is a
// Z85 key.
#include "rpc/curve_keys.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::rpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsView(data, size);
  StatusOr<AuthorizedKeys> keys = ParseAuthorizedKeys(text, "fuzz");
  if (keys.ok()) {
    for (const auto& [key, name] : *keys) {
      if (!IsZ85Key(key)) fuzz::Fail("ParseAuthorizedKeys returned a non-key", key);
    }
  } else if (keys.status().code() != StatusCode::kInvalidArgument) {
    fuzz::Fail("unexpected authorized-keys error", keys.status().ToString());
  }
  (void)KeyFingerprint(text);
  if (IsZ85Key(text)) {
    StatusOr<std::string> key = LoadCurvePublicKey(std::string(text));
    if (!key.ok() || *key != text) fuzz::Fail("LoadCurvePublicKey changed a key");
  }
  fuzz::MemFile file(text);
  StatusOr<std::string> from_file = LoadCurvePublicKey(file.path());
  if (from_file.ok() && !IsZ85Key(*from_file)) fuzz::Fail("key file gave a non-key");
  return 0;
}
