// Device: where a tensor lives or a computation runs (DLPack's device type + ordinal).
#ifndef FERRY_RUNTIME_DEVICE_H_
#define FERRY_RUNTIME_DEVICE_H_

#include <dlpack/dlpack.h>

#include <string>

#include "runtime/status.h"

namespace ferry {

struct Device {
  DLDeviceType type = kDLCPU;
  int id = 0;

  static Device Cpu(int id = 0) { return Device{kDLCPU, id}; }
  static Device Cuda(int id = 0) { return Device{kDLCUDA, id}; }

  DLDevice ToDL() const { return DLDevice{type, id}; }
  static Device FromDL(DLDevice d) { return Device{d.device_type, d.device_id}; }

  // "cpu(0)", "cuda(1)".
  std::string ToString() const;

  friend bool operator==(const Device& a, const Device& b) {
    return a.type == b.type && a.id == b.id;
  }
};

// Parses "cpu", "cpu(0)", "cpu:0", "cuda(1)", "cuda:1". Unknown names: kInvalidArgument.
StatusOr<Device> ParseDevice(const std::string& text);

// "cpu", "cuda", or "device_type_N" for types Ferry has no name for.
std::string DeviceTypeName(DLDeviceType type);

}  // namespace ferry

#endif  // FERRY_RUNTIME_DEVICE_H_
