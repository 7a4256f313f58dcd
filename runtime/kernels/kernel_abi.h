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

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // FERRY_RUNTIME_KERNELS_KERNEL_ABI_H_
