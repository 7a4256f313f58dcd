// NumPy's .npy format: one array per file, readable and writable by numpy.save / numpy.load.
//
// Reading accepts format versions 1.0, 2.0 and 3.0; writing produces 1.0, or 2.0 when the
// header would not fit in 1.0's 16-bit length. Supported dtypes, both ways: float16/32/64,
// int8/16/32/64, uint8/16/32/64 and bool ('|b1', Ferry's kBoolTypeCode x 8 bits).
//
// Error outcomes of every reader:
//   - kInvalidArgument, message starting "npy: ", for malformed input: bad magic, a truncated
//     preamble or header, a header length past the end of the input, a header that is not
//     exactly a dict of 'descr', 'fortran_order' and 'shape', a malformed descr, a negative,
//     non-numeric or overflowing dimension, or data whose length is not exactly
//     prod(shape) x itemsize (shorter: truncated; longer: trailing bytes are rejected).
//   - kUnimplemented, message starting "npy: ", for well-formed files Ferry cannot represent:
//     a format version other than 1.0/2.0/3.0, big-endian data ('>'), other dtypes (complex,
//     strings, objects, structured), or fortran_order True where the Fortran layout differs
//     from the C layout (when at most one dimension exceeds 1 the two layouts are the same
//     bytes and the file is accepted).
// The data length is checked against the header before any array is allocated, so a corrupt
// shape cannot cause a huge allocation. Thread-safe: the functions share no state.
#ifndef FERRY_RUNTIME_NPY_H_
#define FERRY_RUNTIME_NPY_H_

#include <string>
#include <string_view>

#include "runtime/ndarray.h"
#include "runtime/status.h"

namespace ferry {

// The .npy bytes of `array` (copied from its device when it is not on the CPU).
// Errors: kInvalidArgument for a null array; kUnimplemented for a dtype .npy cannot hold here
// (e.g. bfloat16, vector lanes); errors of the device copy.
StatusOr<std::string> SerializeNpy(const NDArray& array);

// A new CPU array holding the array encoded in `bytes`. Errors: see the file comment.
StatusOr<NDArray> ParseNpy(std::string_view bytes);

// Writes `array` to `path` (created or truncated) in .npy format. The errors of SerializeNpy,
// and for the file: kNotFound (missing directory), kPermissionDenied, kResourceExhausted
// (disk full), kUnavailable (other I/O errors), each naming the path. A partly written file is
// removed.
Status SaveNpy(const std::string& path, const NDArray& array);

// Reads the .npy file at `path` into a new CPU array. The header is read and checked against
// the file's size before the data is allocated and read straight into the array. Errors: those
// of ParseNpy; kNotFound / kPermissionDenied / kUnavailable for the file, kInvalidArgument for
// a path that is not a regular file.
StatusOr<NDArray> LoadNpy(const std::string& path);

}  // namespace ferry

#endif  // FERRY_RUNTIME_NPY_H_
