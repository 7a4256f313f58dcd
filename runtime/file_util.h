// Whole-file reads and writes with Status errors.
#ifndef FERRY_RUNTIME_FILE_UTIL_H_
#define FERRY_RUNTIME_FILE_UTIL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/status.h"

namespace ferry {

// Reads the file. Errors: kNotFound when it does not exist, kInvalidArgument when it is
// larger than max_bytes or not a regular file, kUnavailable for other I/O errors.
StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = size_t{1} << 34);

// Writes `data` to a temporary file beside `path` and renames it into place, so readers never
// see a partial file. Errors: kUnavailable naming the path and the system error.
Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace ferry

#endif  // FERRY_RUNTIME_FILE_UTIL_H_
