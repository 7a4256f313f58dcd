// NDArray: a reference-counted, compact (row-major) tensor on some device, viewable as a
// DLTensor. Copies of an NDArray share the data; CopyFrom/CopyTo move bytes.
#ifndef FERRY_RUNTIME_NDARRAY_H_
#define FERRY_RUNTIME_NDARRAY_H_

#include <dlpack/dlpack.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/data_type.h"
#include "runtime/device.h"
#include "runtime/object.h"
#include "runtime/status.h"

namespace ferry {

// Alignment of every array Ferry allocates (TVM's kAllocAlignment).
inline constexpr size_t kAllocAlignment = 64;
// Ferry supports tensors of up to this many dimensions.
inline constexpr int kMaxNdim = 32;

class NDArrayNode;
class DeviceApi;

class NDArray {
 public:
  // A null array; most methods require a defined one (is_null() == false).
  NDArray() = default;

  // Allocates an uninitialised array. Errors: kInvalidArgument for a negative dimension, too
  // many dimensions or an overflowing size; errors of the device's Allocate.
  static StatusOr<NDArray> Empty(std::vector<int64_t> shape, DataType dtype, Device device);

  // Wraps memory owned elsewhere (not freed by the array). The caller keeps `data` alive and
  // valid for `shape` x `dtype` for the lifetime of every copy of the returned array.
  static NDArray Borrow(void* data, std::vector<int64_t> shape, DataType dtype, Device device);

  // Takes ownership of `data`, allocated through `api` on `device`: copies and the final Free
  // go through `api` instead of GetDeviceApi(device.type), and `api_owner` (which may be
  // null) is kept alive as long as the array, so `api` may belong to it. This is how arrays
  // on remote devices are represented (rpc/remote_device_api.h). With a null `api` nothing is
  // freed and copies use GetDeviceApi(device.type), while `api_owner` still lives as long as
  // the array: this is how a DLPack producer's tensor is kept alive (dlpack_interop.h).
  static NDArray Adopt(void* data, std::vector<int64_t> shape, DataType dtype, Device device,
                       DeviceApi* api, ObjectPtr<Object> api_owner);

  // A new array with `shape` that shares this array's data; the element count of `shape` must
  // not exceed this array's element count (kInvalidArgument otherwise).
  StatusOr<NDArray> CreateView(std::vector<int64_t> shape, DataType dtype) const;

  // Copies all bytes from `other` (any device) into this array. Shapes' element counts and
  // dtypes must match (kInvalidArgument otherwise).
  Status CopyFrom(const NDArray& other);
  Status CopyFrom(const DLTensor* other);
  // Copies from / to host memory of exactly NumBytes() bytes (kInvalidArgument otherwise).
  Status CopyFromBytes(const void* data, size_t bytes);
  Status CopyToBytes(void* data, size_t bytes) const;
  // A new array on `device` holding a copy of this one.
  StatusOr<NDArray> CopyTo(Device device) const;

  bool is_null() const { return !node_; }
  const std::vector<int64_t>& shape() const;
  int ndim() const;
  DataType dtype() const;
  Device device() const;
  int64_t NumElements() const;
  size_t NumBytes() const;
  // Pointer to the first element (data + byte_offset). On a non-CPU device it is a device
  // pointer.
  void* data() const;
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(data());
  }
  // The API that copies this array's bytes: the one it was allocated or adopted with, else
  // null (a borrowed array; copies then use GetDeviceApi).
  DeviceApi* device_api() const;
  // A DLTensor view valid while any copy of this NDArray lives. Do not modify it.
  DLTensor* dl_tensor() const;

  // "float32[1, 3, 224, 224] on cpu(0)".
  std::string ToString() const;

  friend bool operator==(const NDArray& a, const NDArray& b) { return a.node_ == b.node_; }

 private:
  explicit NDArray(ObjectPtr<Object> node) : node_(std::move(node)) {}
  NDArrayNode* node() const;
  // Always an NDArrayNode; held as Object so this header need not define the node.
  ObjectPtr<Object> node_;
};

// Element count of a shape, or kInvalidArgument for a negative dimension or an overflow.
StatusOr<int64_t> ShapeNumElements(std::span<const int64_t> shape);
// "[1, 3, 224, 224]".
std::string ShapeToString(std::span<const int64_t> shape);

}  // namespace ferry

#endif  // FERRY_RUNTIME_NDARRAY_H_
