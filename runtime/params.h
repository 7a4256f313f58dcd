// Parameter sets: named arrays serialised in Ferry's params format (docs/library-format.md).
//
// The same bytes are embedded in a model library (package_params=true) or written beside it
// as `<library>.params` and passed to an executor's load_params. A trailing CRC-32 detects
// truncation and corruption.
#ifndef FERRY_RUNTIME_PARAMS_H_
#define FERRY_RUNTIME_PARAMS_H_

#include <map>
#include <string>
#include <string_view>

#include "runtime/ndarray.h"
#include "runtime/status.h"

namespace ferry {

using ParamMap = std::map<std::string, NDArray>;

// Serialises host copies of `params`. Errors: those of copying a device array to the host.
StatusOr<std::string> SerializeParams(const ParamMap& params);
// Parses the params format into CPU arrays. Errors: kInvalidArgument ("params: ...") for a
// wrong magic or version, truncation, a checksum mismatch, or an invalid entry.
StatusOr<ParamMap> ParseParams(std::string_view bytes);

Status SaveParams(const std::string& path, const ParamMap& params);
// Errors: kNotFound for a missing file, otherwise those of ParseParams.
StatusOr<ParamMap> LoadParams(const std::string& path);

}  // namespace ferry

#endif  // FERRY_RUNTIME_PARAMS_H_
