// Parameter sets: named arrays serialised in Ferry's params format (docs/library-format.md).
//
// The same bytes are embedded in a model library (package_params=true) or written beside it
// as `<library>.params` and passed to an executor's load_params. A trailing CRC-32 detects
// truncation and corruption of a file; a library's embedded parameters are used in place
// instead (ParseParamsInPlace), without the checksum pass: the library's integrity is the
// loader's business, like that of its code. Since version 2 every array's data starts at a
// multiple of kParamsAlignment bytes from the start of the params bytes.
#ifndef FERRY_RUNTIME_PARAMS_H_
#define FERRY_RUNTIME_PARAMS_H_

#include <map>
#include <string>
#include <string_view>

#include "runtime/ndarray.h"
#include "runtime/object.h"
#include "runtime/status.h"

namespace ferry {

using ParamMap = std::map<std::string, NDArray>;

// Alignment of array data within params bytes of version 2 (what kernels may assume of any
// array Ferry hands them).
inline constexpr size_t kParamsAlignment = 64;
static_assert(kParamsAlignment >= kAllocAlignment);

// Serialises host copies of `params` in the current version (2, aligned data). Errors: those
// of copying a device array to the host.
StatusOr<std::string> SerializeParams(const ParamMap& params);
// Parses the params format (versions 1 and 2) into CPU arrays of their own. Errors:
// kInvalidArgument ("params: ...") for a wrong magic or version, truncation, a checksum
// mismatch, or an invalid entry.
StatusOr<ParamMap> ParseParams(std::string_view bytes);

// Parses the params format without the checksum pass, into arrays that reference `bytes`
// where they lie: an array whose data is aligned to kAllocAlignment in memory (version 2
// bytes placed at an aligned address, as in a model library) points into `bytes` and keeps
// `owner` (which may be null) alive; any other array (version 1 data, or bytes at an
// unaligned address) is copied into an array of its own. `bytes` must stay valid while
// `owner` lives, and may be read-only memory (a library's .rodata): the referencing arrays
// must never be written; replace them instead. Errors: as ParseParams, but the checksum is
// not compared.
StatusOr<ParamMap> ParseParamsInPlace(std::string_view bytes, ObjectPtr<Object> owner);

// Compares the trailing CRC-32 of params bytes with the bytes before it. Errors:
// kInvalidArgument ("params: ...") for bytes too short to hold it or a mismatch.
Status VerifyParamsChecksum(std::string_view bytes);

// Writes the current version (2).
Status SaveParams(const std::string& path, const ParamMap& params);
// Errors: kNotFound for a missing file, otherwise those of ParseParams.
StatusOr<ParamMap> LoadParams(const std::string& path);

}  // namespace ferry

#endif  // FERRY_RUNTIME_PARAMS_H_
