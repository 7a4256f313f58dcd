// Validation and addressing helpers shared by the CPU kernels; internal to ferry_kernels.
//
// Every helper that validates returns 0 on success, or -1 after writing
// "<kernel>: <problem>" into the FerryKernelError (when it is non-null). None of them throws.
#ifndef FERRY_RUNTIME_KERNELS_KERNEL_UTIL_H_
#define FERRY_RUNTIME_KERNELS_KERNEL_UTIL_H_

#include <stddef.h>
#include <stdint.h>

#include "runtime/kernels/kernel_abi.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels::internal {

// Writes "<kernel>: <printf-formatted message>" into `error` (if non-null), truncated to fit,
// and returns -1.
[[gnu::format(printf, 3, 4)]] int Fail(FerryKernelError* error, const char* kernel,
                                       const char* format, ...);

// Checks that min_args <= num_args <= max_args, that `args` and every tensor in it are
// non-null, and that every tensor is well formed: on kDLCPU, 0 <= ndim <= kMaxDims, a shape
// pointer when ndim > 0, non-negative dimensions, a whole number of bytes per element, a byte
// size that fits in int64 (also with zero dimensions counted as 1), compact strides (strides
// of size-1 dimensions are ignored) and non-null data unless the tensor is empty.
int CheckArgs(const char* kernel, DLTensor* const* args, int32_t num_args, int32_t min_args,
              int32_t max_args, FerryKernelError* error);

// Checks that every tensor is float32 with one lane and 4-byte aligned data. Call after
// CheckArgs.
int CheckFloat32(const char* kernel, DLTensor* const* args, int32_t num_args,
                 FerryKernelError* error);

// Checks that every tensor has the dtype of args[0]. Call after CheckArgs.
int CheckSameDType(const char* kernel, DLTensor* const* args, int32_t num_args,
                   FerryKernelError* error);

// Checks that t.shape equals dims[0, ndim); the message calls the tensor `role`.
int CheckShape(const char* kernel, const char* role, const DLTensor& t, const int64_t* dims,
               int ndim, FerryKernelError* error);

// Maps `axis` (negative counts from the end) into [0, ndim) and stores it in `normalized`.
int NormalizeAxis(const char* kernel, int64_t axis, int ndim, int* normalized,
                  FerryKernelError* error);

// Number of output windows along one spatial axis for conv2d and pooling: the header's
// formula, with ceil instead of floor when ceil_mode and then dropping a last window that
// would start at or past the end of the padded input. Returns -1 when the dilated kernel does
// not fit the padded input or on arithmetic overflow. Arguments must be non-negative, with
// kernel, stride and dilation at least 1.
int64_t WindowCount(int64_t in, int64_t pad_before, int64_t pad_after, int64_t kernel,
                    int64_t stride, int64_t dilation, bool ceil_mode);

// Largest value accepted for stride, dilation, padding, groups and pool size attributes.
inline constexpr int64_t kMaxAttrValue = int64_t{1} << 30;

// Checks the sliding-window attributes shared by conv2d and pooling: strides and dilation in
// [1, kMaxAttrValue], padding in [0, kMaxAttrValue].
// `spatial` axes (padding holds 2 * spatial values).
int CheckWindowAttrs(const char* kernel, const int64_t* strides, const int64_t* padding,
                     const int64_t* dilation, FerryKernelError* error, int spatial = 2);

// Product of dims[begin, end) (1 when empty). Safe on shapes that passed CheckArgs.
int64_t Product(const int64_t* dims, int begin, int end);
inline int64_t NumElements(const DLTensor& t) { return Product(t.shape, 0, t.ndim); }
// Bytes per element ((bits * lanes) / 8; CheckArgs guarantees it is whole).
size_t ElementBytes(const DLTensor& t);
bool SameShape(const DLTensor& a, const DLTensor& b);
// Whether v can be passed to BLAS as a dimension or leading dimension.
bool FitsBlasInt(int64_t v);

// Scratch memory for one kernel call: `count` floats, uninitialised, owned by the calling
// thread and reused by its next calls (it only grows), so steady-state calls neither allocate
// nor fault pages in. Valid until the thread's next ScratchFloats call. Null when `count`
// floats cannot be allocated.
float* ScratchFloats(int64_t count);

// "[d0, d1, ...]" for error messages.
struct ShapeText {
  char text[200];
};
ShapeText FormatShape(const int64_t* dims, int ndim);
inline ShapeText FormatShape(const DLTensor& t) { return FormatShape(t.shape, t.ndim); }

// The tensor's first element (data + byte_offset); null for a null data pointer.
template <typename T>
T* DataAs(const DLTensor& t) {
  if (t.data == nullptr) return nullptr;
  return reinterpret_cast<T*>(static_cast<char*>(t.data) + t.byte_offset);
}

}  // namespace ferry::kernels::internal

#endif  // FERRY_RUNTIME_KERNELS_KERNEL_UTIL_H_
