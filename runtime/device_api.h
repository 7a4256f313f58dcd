// DeviceApi: memory and synchronisation for one kind of device.
//
// Implementations are stateless wrappers over the device's driver, so one instance per device
// type serves the whole process; GetDeviceApi returns it. All methods are thread-safe.
#ifndef FERRY_RUNTIME_DEVICE_API_H_
#define FERRY_RUNTIME_DEVICE_API_H_

#include <cstddef>
#include <string>

#include "runtime/device.h"
#include "runtime/status.h"

namespace ferry {

// What a device reports about itself (TVM's device attributes, the ones Ferry uses).
struct DeviceAttributes {
  bool exists = false;
  std::string name;            // e.g. "x86_64 CPU", "NVIDIA H100"
  size_t total_memory = 0;     // bytes, 0 when unknown
  int compute_units = 0;       // CPU cores or CUDA multiprocessors
  std::string compute_version; // e.g. "9.0" for CUDA, empty for CPU
};

class DeviceApi {
 public:
  virtual ~DeviceApi() = default;

  // Allocates `bytes` (may be 0) aligned to at least `alignment` (a power of two) on `device`.
  // Errors: kResourceExhausted when memory is short, kUnavailable when the device is missing.
  virtual StatusOr<void*> Allocate(Device device, size_t bytes, size_t alignment) = 0;
  // Frees memory from Allocate on the same device. Null is ignored.
  virtual void Free(Device device, void* ptr) = 0;

  // Copies `bytes` between two pointers where at least one is on this API's device type and
  // the other is on the same device type or on the CPU. Synchronous with respect to the host.
  virtual Status Copy(const void* from, Device from_device, void* to, Device to_device,
                      size_t bytes) = 0;

  // Waits until all work queued on `device` is done.
  virtual Status Synchronize(Device device) = 0;

  virtual DeviceAttributes GetAttributes(Device device) = 0;
};

// The API for `type`, or kUnimplemented when this build has none (e.g. CUDA built without the
// toolkit). The returned pointer lives for the whole process.
StatusOr<DeviceApi*> GetDeviceApi(int32_t type);

}  // namespace ferry

#endif  // FERRY_RUNTIME_DEVICE_API_H_
