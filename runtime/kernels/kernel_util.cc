#include "runtime/kernels/kernel_util.h"

#include <stdarg.h>
#include <stdio.h>

#include <climits>
#include <memory>
#include <new>

namespace ferry::kernels::internal {
namespace {

struct DTypeText {
  char text[48];
};

DTypeText FormatDType(DLDataType dtype) {
  const char* code = "code";
  switch (dtype.code) {
    case kDLInt:
      code = "int";
      break;
    case kDLUInt:
      code = "uint";
      break;
    case kDLFloat:
      code = "float";
      break;
    case kDLBfloat:
      code = "bfloat";
      break;
    default:
      break;
  }
  DTypeText out;
  if (dtype.lanes == 1) {
    snprintf(out.text, sizeof(out.text), "%s%u", code, unsigned{dtype.bits});
  } else {
    snprintf(out.text, sizeof(out.text), "%s%ux%u", code, unsigned{dtype.bits},
             unsigned{dtype.lanes});
  }
  return out;
}

bool SameDType(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

int CheckTensor(const char* kernel, int index, const DLTensor* t, FerryKernelError* error) {
  if (t == nullptr) return Fail(error, kernel, "argument %d is null", index);
  if (t->device.device_type != kDLCPU) {
    return Fail(error, kernel, "argument %d is on device type %d, expected kDLCPU", index,
                static_cast<int>(t->device.device_type));
  }
  if (t->ndim < 0 || t->ndim > kMaxDims) {
    return Fail(error, kernel, "argument %d has rank %d, expected 0..%d", index, t->ndim,
                kMaxDims);
  }
  if (t->ndim > 0 && t->shape == nullptr) {
    return Fail(error, kernel, "argument %d has a null shape", index);
  }
  unsigned bits = unsigned{t->dtype.bits} * unsigned{t->dtype.lanes};
  if (bits == 0 || bits % 8 != 0) {
    return Fail(error, kernel, "argument %d has unsupported dtype %s", index,
                FormatDType(t->dtype).text);
  }
  // The byte size with zero dimensions counted as 1 bounds every partial product.
  int64_t bytes = bits / 8;
  bool empty = false;
  for (int i = 0; i < t->ndim; ++i) {
    int64_t dim = t->shape[i];
    if (dim < 0) {
      return Fail(error, kernel, "argument %d has negative dimension %lld", index,
                  static_cast<long long>(dim));
    }
    if (dim == 0) empty = true;
    if (__builtin_mul_overflow(bytes, dim == 0 ? 1 : dim, &bytes)) {
      return Fail(error, kernel, "argument %d shape %s is too large", index,
                  FormatShape(*t).text);
    }
  }
  if (t->strides != nullptr) {
    int64_t expected = 1;
    for (int i = t->ndim - 1; i >= 0; --i) {
      if (t->shape[i] != 1 && t->strides[i] != expected && !empty) {
        return Fail(error, kernel, "argument %d is not compact (stride %lld in dimension %d)",
                    index, static_cast<long long>(t->strides[i]), i);
      }
      expected *= t->shape[i] == 0 ? 1 : t->shape[i];
    }
  }
  if (t->data == nullptr && !empty) {
    return Fail(error, kernel, "argument %d has null data", index);
  }
  return 0;
}

}  // namespace

int Fail(FerryKernelError* error, const char* kernel, const char* format, ...) {
  if (error == nullptr) return -1;
  int n = snprintf(error->message, sizeof(error->message), "%s: ", kernel);
  if (n >= 0 && static_cast<size_t>(n) < sizeof(error->message)) {
    va_list ap;
    va_start(ap, format);
    vsnprintf(error->message + n, sizeof(error->message) - n, format, ap);
    va_end(ap);
  }
  return -1;
}

int CheckArgs(const char* kernel, DLTensor* const* args, int32_t num_args, int32_t min_args,
              int32_t max_args, FerryKernelError* error) {
  if (num_args < min_args || num_args > max_args) {
    if (min_args == max_args) {
      return Fail(error, kernel, "expected %d arguments, got %d", min_args, num_args);
    }
    return Fail(error, kernel, "expected at least %d arguments, got %d", min_args, num_args);
  }
  if (args == nullptr) return Fail(error, kernel, "argument array is null");
  for (int32_t i = 0; i < num_args; ++i) {
    if (CheckTensor(kernel, i, args[i], error) != 0) return -1;
  }
  return 0;
}

int CheckFloat32(const char* kernel, DLTensor* const* args, int32_t num_args,
                 FerryKernelError* error) {
  for (int32_t i = 0; i < num_args; ++i) {
    const DLTensor& t = *args[i];
    if (t.dtype.code != kDLFloat || t.dtype.bits != 32 || t.dtype.lanes != 1) {
      return Fail(error, kernel, "argument %d has dtype %s, expected float32", i,
                  FormatDType(t.dtype).text);
    }
    if (reinterpret_cast<uintptr_t>(DataAs<char>(t)) % alignof(float) != 0) {
      return Fail(error, kernel, "argument %d data is not 4-byte aligned", i);
    }
  }
  return 0;
}

int CheckSameDType(const char* kernel, DLTensor* const* args, int32_t num_args,
                   FerryKernelError* error) {
  for (int32_t i = 1; i < num_args; ++i) {
    if (!SameDType(args[i]->dtype, args[0]->dtype)) {
      return Fail(error, kernel, "argument %d has dtype %s, expected %s like argument 0", i,
                  FormatDType(args[i]->dtype).text, FormatDType(args[0]->dtype).text);
    }
  }
  return 0;
}

int CheckShape(const char* kernel, const char* role, const DLTensor& t, const int64_t* dims,
               int ndim, FerryKernelError* error) {
  bool equal = t.ndim == ndim;
  for (int i = 0; equal && i < ndim; ++i) equal = t.shape[i] == dims[i];
  if (equal) return 0;
  return Fail(error, kernel, "%s shape %s does not match expected %s", role,
              FormatShape(t).text, FormatShape(dims, ndim).text);
}

int NormalizeAxis(const char* kernel, int64_t axis, int ndim, int* normalized,
                  FerryKernelError* error) {
  int64_t a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim) {
    return Fail(error, kernel, "axis %lld is out of range for rank %d",
                static_cast<long long>(axis), ndim);
  }
  *normalized = static_cast<int>(a);
  return 0;
}

int64_t WindowCount(int64_t in, int64_t pad_before, int64_t pad_after, int64_t kernel,
                    int64_t stride, int64_t dilation, bool ceil_mode) {
  int64_t padded, extent;
  if (__builtin_add_overflow(in, pad_before, &padded) ||
      __builtin_add_overflow(padded, pad_after, &padded) ||
      __builtin_mul_overflow(dilation, kernel - 1, &extent) ||
      __builtin_add_overflow(extent, 1, &extent)) {
    return -1;
  }
  if (extent > padded) return -1;
  int64_t span = padded - extent;
  int64_t count = span / stride + 1;
  if (ceil_mode) {
    count = span / stride + (span % stride != 0 ? 1 : 0) + 1;
    if ((count - 1) * stride >= padded) --count;
  }
  return count;
}

int64_t Product(const int64_t* dims, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= dims[i];
  return p;
}

size_t ElementBytes(const DLTensor& t) {
  return (size_t{t.dtype.bits} * size_t{t.dtype.lanes}) / 8;
}

bool SameShape(const DLTensor& a, const DLTensor& b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; ++i) {
    if (a.shape[i] != b.shape[i]) return false;
  }
  return true;
}

bool FitsBlasInt(int64_t v) { return v >= 0 && v <= INT_MAX; }

ShapeText FormatShape(const int64_t* dims, int ndim) {
  ShapeText out;
  size_t n = 0;
  out.text[n++] = '[';
  for (int i = 0; i < ndim && n < sizeof(out.text); ++i) {
    int w = snprintf(out.text + n, sizeof(out.text) - n, i == 0 ? "%lld" : ", %lld",
                     static_cast<long long>(dims[i]));
    if (w < 0) break;
    n += static_cast<size_t>(w);
  }
  if (n + 2 <= sizeof(out.text)) {
    out.text[n++] = ']';
    out.text[n] = '\0';
  } else {
    out.text[sizeof(out.text) - 1] = '\0';
  }
  return out;
}

int CheckWindowAttrs(const char* kernel, const int64_t* strides, const int64_t* padding,
                     const int64_t* dilation, FerryKernelError* error, int spatial) {
  for (int i = 0; i < spatial; ++i) {
    if (strides[i] < 1 || strides[i] > kMaxAttrValue || dilation[i] < 1 ||
        dilation[i] > kMaxAttrValue) {
      return Fail(error, kernel, "strides and dilation must be in [1, %lld]",
                  static_cast<long long>(kMaxAttrValue));
    }
  }
  for (int i = 0; i < 2 * spatial; ++i) {
    if (padding[i] < 0 || padding[i] > kMaxAttrValue) {
      return Fail(error, kernel, "padding must be in [0, %lld]",
                  static_cast<long long>(kMaxAttrValue));
    }
  }
  return 0;
}

float* ScratchFloats(int64_t count) {
  thread_local std::unique_ptr<float[]> buffer;
  thread_local int64_t capacity = 0;
  if (count < 0) return nullptr;
  if (count > capacity) {
    buffer.reset(new (std::nothrow) float[static_cast<size_t>(count)]);
    capacity = buffer ? count : 0;
  }
  return buffer.get();
}

}  // namespace ferry::kernels::internal
