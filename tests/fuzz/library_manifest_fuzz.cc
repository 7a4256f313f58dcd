// Fuzz target: the manifest blob a model library embeds (runtime/library_manifest.h), as
// loading a library reads it.
//
// Input: the first byte chooses the mode, the rest is the blob.
//   even: parsed as is.
//   odd:  the header's CRC-32 is recomputed over the payload it declares (clamped to the
//         bytes present), so the records behind it are reached.
// Properties: never crashes; errors are kInvalidArgument; a parsed manifest serialises and
// parses again to the same keys. The loader's parse (ParseManifestInPlace, then
// ParseParamsInPlace on each packaged model's params) obeys the same, and accepts whatever
// the verifying parse accepts, with the same parameter bytes.
#include "runtime/binary_io.h"
#include "runtime/library_manifest.h"
#include "runtime/params.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;

namespace {
constexpr size_t kSizeOffset = 16;  // magic (8), version (4), reserved (4)
constexpr size_t kCrcOffset = 24;
constexpr size_t kHeaderBytes = 28;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string blob(fuzz::AsView(data + 1, size - 1));
  if ((data[0] & 1) && blob.size() >= kHeaderBytes) {
    uint64_t payload_size = 0;
    for (int i = 0; i < 8; ++i) {
      payload_size |= uint64_t{static_cast<uint8_t>(blob[kSizeOffset + i])} << (8 * i);
    }
    payload_size = std::min<uint64_t>(payload_size, blob.size() - kHeaderBytes);
    const uint32_t crc = Crc32(std::string_view(blob).substr(kHeaderBytes, payload_size));
    for (int i = 0; i < 4; ++i) blob[kCrcOffset + i] = static_cast<char>(crc >> (8 * i));
  }
  StatusOr<LibraryManifest> in_place = ParseManifestInPlace(blob);
  if (!in_place.ok() && in_place.status().code() != StatusCode::kInvalidArgument) {
    fuzz::Fail("unexpected in-place manifest error", in_place.status().ToString());
  }
  if (in_place.ok()) {
    for (const ModelRecord& m : in_place->models) {
      if (!m.params_packaged) continue;
      StatusOr<ParamMap> params = ParseParamsInPlace(m.packaged_params(), nullptr);
      if (!params.ok() && params.status().code() != StatusCode::kInvalidArgument) {
        fuzz::Fail("unexpected in-place params error", params.status().ToString());
      }
    }
  }
  StatusOr<LibraryManifest> manifest = ParseManifest(blob);
  if (manifest.ok() && (!in_place.ok() || in_place->models.size() != manifest->models.size())) {
    fuzz::Fail("the in-place parse refused a verified manifest", in_place.status().ToString());
  }
  for (size_t i = 0; manifest.ok() && i < manifest->models.size(); ++i) {
    if (manifest->models[i].params_packaged &&
        in_place->models[i].packaged_params() != manifest->models[i].params_bytes) {
      fuzz::Fail("the in-place parse found other parameter bytes");
    }
  }
  if (!manifest.ok()) {
    if (manifest.status().code() != StatusCode::kInvalidArgument) {
      fuzz::Fail("unexpected manifest error", manifest.status().ToString());
    }
    return 0;
  }
  StatusOr<LibraryManifest> back = ParseManifest(SerializeManifest(*manifest));
  if (!back.ok() || back->models.size() != manifest->models.size()) {
    fuzz::Fail("manifest round trip changed", back.status().ToString());
  }
  for (size_t i = 0; i < back->models.size(); ++i) {
    if (back->models[i].key != manifest->models[i].key) fuzz::Fail("manifest key changed");
  }
  return 0;
}
