// Fuzz target: NumPy .npy bytes (runtime/npy.h), both from memory (ParseNpy) and from a file
// (LoadNpy, which reads the header before the data; the file is a memfd).
// Properties: never crashes; errors are kInvalidArgument or kUnimplemented; both readers agree
// on success; an array that parses serialises and parses again to the same shape and dtype.
#include "runtime/npy.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;

namespace {

void ExpectNpyError(const Status& s) {
  if (s.code() != StatusCode::kInvalidArgument && s.code() != StatusCode::kUnimplemented) {
    fuzz::Fail("unexpected npy error", s.ToString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = fuzz::AsView(data, size);
  StatusOr<NDArray> parsed = ParseNpy(bytes);
  fuzz::MemFile file(bytes);
  StatusOr<NDArray> loaded = LoadNpy(file.path());
  if (parsed.ok() != loaded.ok()) {
    fuzz::Fail("ParseNpy and LoadNpy disagree",
               parsed.status().ToString() + " / " + loaded.status().ToString());
  }
  if (!parsed.ok()) {
    ExpectNpyError(parsed.status());
    ExpectNpyError(loaded.status());
    return 0;
  }
  StatusOr<std::string> again = SerializeNpy(*parsed);
  if (!again.ok()) fuzz::Fail("a parsed array does not serialise", again.status().ToString());
  StatusOr<NDArray> back = ParseNpy(*again);
  if (!back.ok() || back->shape() != parsed->shape() || !(back->dtype() == parsed->dtype())) {
    fuzz::Fail("npy round trip changed the array");
  }
  return 0;
}
