// DLPack interop: sharing tensor memory with other frameworks (numpy, torch) without copying.
//
//   DLManagedTensor* m = ToDLPack(array);    // hand to a consumer; it calls m->deleter
//   NDArray a = FromDLPack(m).value();       // take a producer's tensor; its deleter runs
//                                            // when the last copy of `a` goes
//
// Ferry's arrays are compact and row-major, so only such tensors are accepted.
#ifndef FERRY_RUNTIME_DLPACK_INTEROP_H_
#define FERRY_RUNTIME_DLPACK_INTEROP_H_

#include <dlpack/dlpack.h>

#include "runtime/ndarray.h"
#include "runtime/status.h"

namespace ferry {

// Wraps the producer's tensor `managed` as an NDArray sharing its memory (data +
// byte_offset). On success the NDArray owns `managed`: its deleter (if any) is called exactly
// once, when the last copy of the array (and of any view of it) is destroyed, on whichever
// thread that happens. Copies from and to the array use the device API of its device type.
// Errors (ownership then stays with the caller): kInvalidArgument for a null tensor, a
// negative dimension, more than kMaxNdim dimensions, a zero-sized dtype, a remote device type,
// or strides that are not compact row-major (the message names the shape and the strides;
// strides of size-1 dimensions are ignored).
StatusOr<NDArray> FromDLPack(DLManagedTensor* managed);

// A DLManagedTensor viewing `array`'s memory that keeps the array's data alive until the
// consumer calls its deleter (exactly once; any thread). dl_tensor.strides is null (compact).
// Errors: kInvalidArgument for a null array or an array on a remote device (its memory is on
// another machine: copy it to the host first).
StatusOr<DLManagedTensor*> ToDLPack(const NDArray& array);

}  // namespace ferry

#endif  // FERRY_RUNTIME_DLPACK_INTEROP_H_
