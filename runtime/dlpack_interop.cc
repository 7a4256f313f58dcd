#include "runtime/dlpack_interop.h"

#include <string>
#include <vector>

namespace ferry {
namespace {

// Keeps a producer's tensor alive for an adopted NDArray and calls its deleter at the end.
class ManagedTensorOwner : public Object {
 public:
  explicit ManagedTensorOwner(DLManagedTensor* managed) : managed_(managed) {}
  ~ManagedTensorOwner() override {
    if (managed_->deleter != nullptr) managed_->deleter(managed_);
  }

 private:
  DLManagedTensor* managed_;
};

std::string Int64sToString(const int64_t* values, int n) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

Status CheckCompact(const DLTensor& t) {
  if (t.strides == nullptr) return Status::Ok();
  int64_t expected = 1;
  for (int i = t.ndim - 1; i >= 0; --i) {
    if (t.shape[i] == 0) return Status::Ok();  // no elements: any strides describe it
  }
  for (int i = t.ndim - 1; i >= 0; --i) {
    if (t.shape[i] != 1 && t.strides[i] != expected) {
      return InvalidArgumentError(
          "only compact row-major tensors can be shared; this one has shape " +
          Int64sToString(t.shape, t.ndim) + " and strides " + Int64sToString(t.strides, t.ndim) +
          " (in elements): make it contiguous first");
    }
    expected *= t.shape[i];
  }
  return Status::Ok();
}

// What a DLManagedTensor from ToDLPack holds: the array (keeping its data alive).
struct ExportContext {
  NDArray array;
};

void DeleteExported(DLManagedTensor* managed) {
  delete static_cast<ExportContext*>(managed->manager_ctx);
  delete managed;
}

}  // namespace

StatusOr<NDArray> FromDLPack(DLManagedTensor* managed) {
  if (managed == nullptr) return InvalidArgumentError("FromDLPack: null tensor");
  const DLTensor& t = managed->dl_tensor;
  if (t.ndim < 0 || t.ndim > kMaxNdim) {
    return InvalidArgumentError("FromDLPack: unsupported number of dimensions " +
                                std::to_string(t.ndim));
  }
  if (t.ndim > 0 && t.shape == nullptr) return InvalidArgumentError("FromDLPack: null shape");
  std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
  RETURN_IF_ERROR(ShapeNumElements(shape).status());
  DataType dtype = DataType::FromDL(t.dtype);
  if (dtype.bits == 0 || dtype.lanes == 0) {
    return InvalidArgumentError("FromDLPack: invalid dtype " + dtype.ToString());
  }
  Device device = Device::FromDL(t.device);
  if (device.is_remote()) {
    return InvalidArgumentError("FromDLPack: unsupported device type " +
                                std::to_string(static_cast<int>(device.type)));
  }
  RETURN_IF_ERROR(CheckCompact(t));
  void* data = static_cast<char*>(t.data) + t.byte_offset;
  // api == null: the array frees nothing and copies use GetDeviceApi(device.type); the owner
  // lives as long as the array and calls the producer's deleter.
  return NDArray::Adopt(data, std::move(shape), dtype, device, /*api=*/nullptr,
                        MakeObject<ManagedTensorOwner>(managed));
}

StatusOr<DLManagedTensor*> ToDLPack(const NDArray& array) {
  if (array.is_null()) return InvalidArgumentError("ToDLPack: null array");
  if (array.device().is_remote()) {
    return InvalidArgumentError("an array on " + array.device().ToString() +
                                " lives on another machine and cannot be shared through "
                                "DLPack; copy it to the host first (numpy() or copyto)");
  }
  auto* context = new ExportContext{array};
  auto* managed = new DLManagedTensor{};
  managed->dl_tensor = *context->array.dl_tensor();
  managed->dl_tensor.strides = nullptr;
  managed->manager_ctx = context;
  managed->deleter = &DeleteExported;
  return managed;
}

}  // namespace ferry
