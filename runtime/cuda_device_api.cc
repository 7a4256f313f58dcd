// CUDA device API over the CUDA runtime. Compiled only when the CUDA toolkit is present.
#include <cuda_runtime_api.h>

#include "runtime/device_api.h"

namespace ferry {
namespace {

Status CudaError(cudaError_t err, const std::string& what) {
  std::string message = what + ": " + cudaGetErrorString(err);
  if (err == cudaErrorMemoryAllocation) return ResourceExhaustedError(message);
  if (err == cudaErrorNoDevice || err == cudaErrorInvalidDevice ||
      err == cudaErrorInsufficientDriver) {
    return UnavailableError(message);
  }
  return InternalError(message);
}

class CudaDeviceApi final : public DeviceApi {
 public:
  StatusOr<void*> Allocate(Device device, size_t bytes, size_t) override {
    if (cudaError_t err = cudaSetDevice(device.id); err != cudaSuccess) {
      return CudaError(err, "cannot use " + device.ToString());
    }
    void* ptr = nullptr;
    // cudaMalloc aligns to at least 256 bytes, more than any DLPack alignment Ferry asks for.
    if (cudaError_t err = cudaMalloc(&ptr, bytes == 0 ? 1 : bytes); err != cudaSuccess) {
      return CudaError(err, "cannot allocate " + std::to_string(bytes) + " bytes on " +
                                device.ToString());
    }
    return ptr;
  }

  void Free(Device device, void* ptr) override {
    if (ptr == nullptr) return;
    cudaSetDevice(device.id);
    cudaFree(ptr);
  }

  Status Copy(const void* from, Device from_device, void* to, Device to_device,
              size_t bytes) override {
    cudaMemcpyKind kind;
    Device active = from_device;
    if (from_device.type == kDLCUDA && to_device.type == kDLCUDA) {
      kind = cudaMemcpyDeviceToDevice;
      if (from_device.id != to_device.id) {
        cudaError_t err = cudaMemcpyPeer(to, to_device.id, from, from_device.id, bytes);
        return err == cudaSuccess ? Status::Ok() : CudaError(err, "cudaMemcpyPeer");
      }
    } else if (from_device.type == kDLCUDA && to_device.type == kDLCPU) {
      kind = cudaMemcpyDeviceToHost;
    } else if (from_device.type == kDLCPU && to_device.type == kDLCUDA) {
      kind = cudaMemcpyHostToDevice;
      active = to_device;
    } else {
      return InternalError("cuda device api asked to copy between " + from_device.ToString() +
                           " and " + to_device.ToString());
    }
    if (cudaError_t err = cudaSetDevice(active.id); err != cudaSuccess) {
      return CudaError(err, "cannot use " + active.ToString());
    }
    cudaError_t err = cudaMemcpy(to, from, bytes, kind);
    return err == cudaSuccess ? Status::Ok() : CudaError(err, "cudaMemcpy");
  }

  Status Synchronize(Device device) override {
    if (cudaError_t err = cudaSetDevice(device.id); err != cudaSuccess) {
      return CudaError(err, "cannot use " + device.ToString());
    }
    cudaError_t err = cudaDeviceSynchronize();
    return err == cudaSuccess ? Status::Ok() : CudaError(err, "cudaDeviceSynchronize");
  }

  DeviceAttributes GetAttributes(Device device) override {
    DeviceAttributes attrs;
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, device.id) != cudaSuccess) return attrs;
    attrs.exists = true;
    attrs.name = prop.name;
    attrs.total_memory = prop.totalGlobalMem;
    attrs.compute_units = prop.multiProcessorCount;
    attrs.compute_version = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    return attrs;
  }
};

}  // namespace

DeviceApi* CudaDeviceApiInstance() {
  static CudaDeviceApi api;
  return &api;
}

}  // namespace ferry
