// Fuzz target: the params file (runtime/params.h), as load_params and a library's packaged
// parameters read it.
//
// Input: the first byte chooses the mode, the rest is the file.
//   even: parsed as is (the checksum check and what precedes it).
//   odd:  the trailing CRC-32 is recomputed first, so the entries behind it are reached.
// Properties: never crashes; errors are kInvalidArgument; parsed parameters serialise and
// parse again to the same names. The in-place parse a loaded library uses
// (ParseParamsInPlace, over a 64-byte-aligned copy so that arrays reference it) obeys the
// same and accepts whatever ParseParams accepts.
#include <cstring>

#include "runtime/binary_io.h"
#include "runtime/params.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(fuzz::AsView(data + 1, size - 1));
  if ((data[0] & 1) && bytes.size() >= 4) {
    const uint32_t crc = Crc32(std::string_view(bytes).substr(0, bytes.size() - 4));
    for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<char>(crc >> (8 * i));
  }
  StatusOr<NDArray> aligned = NDArray::Empty({static_cast<int64_t>(bytes.size()) + 1},
                                              DataType::UInt8(), Device::Cpu());
  if (!aligned.ok()) fuzz::Fail("cannot allocate", aligned.status().ToString());
  std::memcpy(aligned->data(), bytes.data(), bytes.size());
  StatusOr<ParamMap> in_place =
      ParseParamsInPlace(std::string_view(aligned->data_as<char>(), bytes.size()), nullptr);
  if (!in_place.ok() && in_place.status().code() != StatusCode::kInvalidArgument) {
    fuzz::Fail("unexpected in-place params error", in_place.status().ToString());
  }
  StatusOr<ParamMap> params = ParseParams(bytes);
  if (params.ok() && (!in_place.ok() || in_place->size() != params->size())) {
    fuzz::Fail("the in-place parse refused verified params", in_place.status().ToString());
  }
  if (!params.ok()) {
    if (params.status().code() != StatusCode::kInvalidArgument) {
      fuzz::Fail("unexpected params error", params.status().ToString());
    }
    return 0;
  }
  StatusOr<std::string> again = SerializeParams(*params);
  if (!again.ok()) fuzz::Fail("parsed params do not serialise", again.status().ToString());
  StatusOr<ParamMap> back = ParseParams(*again);
  if (!back.ok() || back->size() != params->size()) fuzz::Fail("params round trip changed");
  return 0;
}
