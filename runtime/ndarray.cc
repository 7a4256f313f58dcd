#include "runtime/ndarray.h"

#include <limits>

#include "runtime/device_api.h"

namespace ferry {

class NDArrayNode : public Object {
 public:
  ~NDArrayNode() override {
    if (api_ != nullptr) api_->Free(device_, tensor_.data);
  }

  // For a remote array tensor_.device is the device on the remote machine (DLPack cannot
  // name a remote one); device_ is the array's device as the client sees it.
  Device device_;
  DLTensor tensor_{};
  std::vector<int64_t> shape_;
  // Set when this node owns tensor_.data and must free it.
  DeviceApi* api_ = nullptr;
  // Set for views: keeps the owner of the data alive.
  ObjectPtr<NDArrayNode> base_;
  // Keeps api_ alive when it belongs to an object (a remote session).
  ObjectPtr<Object> api_owner_;
  int64_t num_elements_ = 0;
};

namespace {

ObjectPtr<NDArrayNode> MakeNode(void* data, std::vector<int64_t> shape, DataType dtype,
                                Device device, int64_t num_elements) {
  auto node = MakeObject<NDArrayNode>();
  node->shape_ = std::move(shape);
  node->num_elements_ = num_elements;
  node->tensor_.data = data;
  node->device_ = device;
  node->tensor_.device = device.Local().ToDL();
  node->tensor_.ndim = static_cast<int32_t>(node->shape_.size());
  node->tensor_.dtype = dtype.ToDL();
  node->tensor_.shape = node->shape_.data();
  node->tensor_.strides = nullptr;
  node->tensor_.byte_offset = 0;
  return node;
}

Status CheckCompatible(int64_t dst_elems, DataType dst_type, int64_t src_elems, DataType src_type) {
  if (dst_elems != src_elems || !(dst_type == src_type)) {
    return InvalidArgumentError("cannot copy " + src_type.ToString() + " x " +
                                std::to_string(src_elems) + " into " + dst_type.ToString() + " x " +
                                std::to_string(dst_elems));
  }
  return Status::Ok();
}

// Copies through the API of the non-CPU side: the array's own API when it has one
// (`from_api` / `to_api`), else the one registered for its device type.
Status CopyBetween(const void* from, Device from_device, DeviceApi* from_api, void* to,
                   Device to_device, DeviceApi* to_api, size_t bytes) {
  const bool from_is_owner = from_device.type != kDLCPU;
  if (from_is_owner && to_device.type != kDLCPU && from_api != nullptr && to_api != nullptr &&
      from_api != to_api) {
    return UnimplementedError("no direct copy from " + from_device.ToString() + " to " +
                              to_device.ToString() + "; copy through the host");
  }
  DeviceApi* api = from_is_owner ? from_api : to_api;
  if (api == nullptr) {
    ASSIGN_OR_RETURN(api, GetDeviceApi(from_is_owner ? from_device.type : to_device.type));
  }
  return api->Copy(from, from_device, to, to_device, bytes);
}

}  // namespace

StatusOr<int64_t> ShapeNumElements(std::span<const int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return InvalidArgumentError("negative dimension in shape " + ShapeToString(shape));
    if (dim != 0 && count > std::numeric_limits<int64_t>::max() / dim) {
      return InvalidArgumentError("shape " + ShapeToString(shape) + " overflows");
    }
    count *= dim;
  }
  return count;
}

std::string ShapeToString(std::span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

StatusOr<NDArray> NDArray::Empty(std::vector<int64_t> shape, DataType dtype, Device device) {
  if (shape.size() > static_cast<size_t>(kMaxNdim)) {
    return InvalidArgumentError("too many dimensions: " + std::to_string(shape.size()));
  }
  if (dtype.lanes == 0 || dtype.bits == 0) {
    return InvalidArgumentError("invalid dtype " + dtype.ToString());
  }
  ASSIGN_OR_RETURN(int64_t count, ShapeNumElements(shape));
  if (static_cast<uint64_t>(count) > std::numeric_limits<uint64_t>::max() / 16 / dtype.bytes()) {
    return InvalidArgumentError("shape " + ShapeToString(shape) + " is too large");
  }
  size_t bytes = static_cast<size_t>(count) * dtype.bytes();
  ASSIGN_OR_RETURN(DeviceApi * api, GetDeviceApi(device.type));
  ASSIGN_OR_RETURN(void* data, api->Allocate(device, bytes, kAllocAlignment));
  auto node = MakeNode(data, std::move(shape), dtype, device, count);
  node->api_ = api;
  return NDArray(std::move(node));
}

NDArray NDArray::Adopt(void* data, std::vector<int64_t> shape, DataType dtype, Device device,
                       DeviceApi* api, ObjectPtr<Object> api_owner) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  auto node = MakeNode(data, std::move(shape), dtype, device, count);
  node->api_ = api;
  node->api_owner_ = std::move(api_owner);
  return NDArray(std::move(node));
}

NDArray NDArray::Borrow(void* data, std::vector<int64_t> shape, DataType dtype, Device device) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return NDArray(MakeNode(data, std::move(shape), dtype, device, count));
}

StatusOr<NDArray> NDArray::CreateView(std::vector<int64_t> shape, DataType dtype) const {
  FERRY_CHECK(node_) << "CreateView on a null NDArray";
  if (dtype.lanes == 0 || dtype.bits == 0) {
    return InvalidArgumentError("invalid dtype " + dtype.ToString());
  }
  ASSIGN_OR_RETURN(int64_t count, ShapeNumElements(shape));
  // Compare by division: count * bytes() can wrap around for a huge count.
  if (static_cast<size_t>(count) > NumBytes() / dtype.bytes()) {
    return InvalidArgumentError("view " + dtype.ToString() + ShapeToString(shape) +
                                " is larger than " + ToString());
  }
  auto view = MakeNode(data(), std::move(shape), dtype, device(), count);
  view->base_ = node()->base_ ? node()->base_ : ObjectPtr<NDArrayNode>(node());
  return NDArray(std::move(view));
}

Status NDArray::CopyFrom(const NDArray& other) {
  FERRY_CHECK(node_ && other.node_) << "CopyFrom with a null NDArray";
  RETURN_IF_ERROR(CheckCompatible(NumElements(), dtype(), other.NumElements(), other.dtype()));
  return CopyBetween(other.data(), other.device(), other.device_api(), data(), device(),
                     device_api(), NumBytes());
}

Status NDArray::CopyFrom(const DLTensor* other) {
  FERRY_CHECK(node_ && other != nullptr) << "CopyFrom with a null tensor";
  ASSIGN_OR_RETURN(int64_t count,
                   ShapeNumElements(std::span<const int64_t>(other->shape, other->ndim)));
  DataType other_type = DataType::FromDL(other->dtype);
  RETURN_IF_ERROR(CheckCompatible(NumElements(), dtype(), count, other_type));
  if (other->strides != nullptr) {
    int64_t expected = 1;
    for (int i = other->ndim - 1; i >= 0; --i) {
      if (other->shape[i] != 1 && other->strides[i] != expected) {
        return UnimplementedError("copy from a non-compact tensor");
      }
      expected *= other->shape[i];
    }
  }
  const void* from = static_cast<const char*>(other->data) + other->byte_offset;
  return CopyBetween(from, Device::FromDL(other->device), nullptr, data(), device(), device_api(),
                     NumBytes());
}

Status NDArray::CopyFromBytes(const void* bytes_ptr, size_t bytes) {
  FERRY_CHECK(node_) << "CopyFromBytes on a null NDArray";
  if (bytes != NumBytes()) {
    return InvalidArgumentError("expected " + std::to_string(NumBytes()) + " bytes for " +
                                ToString() + ", got " + std::to_string(bytes));
  }
  return CopyBetween(bytes_ptr, Device::Cpu(), nullptr, data(), device(), device_api(), bytes);
}

Status NDArray::CopyToBytes(void* bytes_ptr, size_t bytes) const {
  FERRY_CHECK(node_) << "CopyToBytes on a null NDArray";
  if (bytes != NumBytes()) {
    return InvalidArgumentError("expected " + std::to_string(NumBytes()) + " bytes for " +
                                ToString() + ", got " + std::to_string(bytes));
  }
  return CopyBetween(data(), device(), device_api(), bytes_ptr, Device::Cpu(), nullptr, bytes);
}

StatusOr<NDArray> NDArray::CopyTo(Device target) const {
  FERRY_CHECK(node_) << "CopyTo on a null NDArray";
  ASSIGN_OR_RETURN(NDArray out, Empty(shape(), dtype(), target));
  RETURN_IF_ERROR(out.CopyFrom(*this));
  return out;
}

NDArrayNode* NDArray::node() const { return static_cast<NDArrayNode*>(node_.get()); }

const std::vector<int64_t>& NDArray::shape() const {
  FERRY_CHECK(node_) << "shape() of a null NDArray";
  return node()->shape_;
}
int NDArray::ndim() const { return static_cast<int>(shape().size()); }
DataType NDArray::dtype() const {
  FERRY_CHECK(node_) << "dtype() of a null NDArray";
  return DataType::FromDL(node()->tensor_.dtype);
}
Device NDArray::device() const {
  FERRY_CHECK(node_) << "device() of a null NDArray";
  return node()->device_;
}
int64_t NDArray::NumElements() const {
  FERRY_CHECK(node_) << "NumElements() of a null NDArray";
  return node()->num_elements_;
}
size_t NDArray::NumBytes() const { return static_cast<size_t>(NumElements()) * dtype().bytes(); }
void* NDArray::data() const {
  FERRY_CHECK(node_) << "data() of a null NDArray";
  return static_cast<char*>(node()->tensor_.data) + node()->tensor_.byte_offset;
}
DeviceApi* NDArray::device_api() const {
  FERRY_CHECK(node_) << "device_api() of a null NDArray";
  const NDArrayNode* owner = node()->base_ ? node()->base_.get() : node();
  return owner->api_;
}
DLTensor* NDArray::dl_tensor() const {
  FERRY_CHECK(node_) << "dl_tensor() of a null NDArray";
  return &node()->tensor_;
}

std::string NDArray::ToString() const {
  if (!node_) return "NDArray(null)";
  return dtype().ToString() + ShapeToString(shape()) + " on " + device().ToString();
}

}  // namespace ferry
