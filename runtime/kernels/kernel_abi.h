// The C ABI between executors and the operator functions compiled into a model library.
//
// A model library exports one function per graph node with the FerryOpFunc signature. Its
// arguments are the node's inputs followed by its outputs, as DLTensors that the caller owns
// and keeps alive for the duration of the call. The function returns 0 on success; on failure
// it returns non-zero and writes a NUL-terminated message into `error` (never more than
// sizeof(error->message) bytes). Functions never throw across this boundary and never keep
// pointers to their arguments after returning.
#ifndef FERRY_RUNTIME_KERNELS_KERNEL_ABI_H_
#define FERRY_RUNTIME_KERNELS_KERNEL_ABI_H_

#include <dlpack/dlpack.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FerryKernelError {
  char message[512];
} FerryKernelError;

typedef int (*FerryOpFunc)(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// The entry of an ahead-of-time compiled model: runs every node in order. `io` holds the
// model's inputs, then its parameters, then its outputs, each in the order of the model's
// graph; `workspace` is caller-owned scratch memory of the size recorded in the library's
// manifest, aligned to 64 bytes, in which the generated code places every intermediate
// tensor at an offset fixed at compile time. Same return and error convention as FerryOpFunc.
typedef int (*FerryAotEntry)(DLTensor* const* io, int32_t num_io, void* workspace,
                             FerryKernelError* error);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // FERRY_RUNTIME_KERNELS_KERNEL_ABI_H_
