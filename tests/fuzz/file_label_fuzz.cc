// Fuzz target: file labels (device_agent/file_label.h), the names clients give uploads.
// Property: a label accepted by CheckFileLabel is a plain file name: 1-255 bytes, no '/',
// '\\' or control characters, not starting with '.'.
#include "device_agent/file_label.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view label = fuzz::AsView(data, size);
  const Status s = agent::CheckFileLabel(label);
  if (!s.ok()) {
    if (s.code() != StatusCode::kInvalidArgument)
      fuzz::Fail("unexpected label error", s.ToString());
    return 0;
  }
  if (label.empty() || label.size() > agent::kMaxFileLabelBytes || label[0] == '.') {
    fuzz::Fail("accepted a label of bad length or a leading dot");
  }
  for (char c : label) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\' || b < 0x20 || b == 0x7f) fuzz::Fail("accepted a path character");
  }
  return 0;
}
