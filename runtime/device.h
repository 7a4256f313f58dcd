// Device: where a tensor lives or a computation runs (DLPack's device type + ordinal).
#ifndef FERRY_RUNTIME_DEVICE_H_
#define FERRY_RUNTIME_DEVICE_H_

#include <dlpack/dlpack.h>

#include <cstdint>
#include <string>

#include "runtime/status.h"

namespace ferry {

// Devices of a remote session carry this mask in their type (TVM's kRPCSessMask): type =
// kRemoteDeviceMask + the device type on the remote machine.
inline constexpr int kRemoteDeviceMask = 128;

struct Device {
  // A DLDeviceType, or kRemoteDeviceMask plus one. An int, not a DLDeviceType: the masked
  // values lie outside the enum's range, so holding them in it would be undefined behaviour.
  int32_t type = kDLCPU;
  int id = 0;

  static Device Cpu(int id = 0) { return Device{kDLCPU, id}; }
  static Device Cuda(int id = 0) { return Device{kDLCUDA, id}; }

  // DLPack's form of a local device. A remote device has none (DLPack cannot name it):
  // precondition !is_remote().
  DLDevice ToDL() const;
  static Device FromDL(DLDevice d) { return Device{d.device_type, d.device_id}; }

  bool is_remote() const { return type >= kRemoteDeviceMask; }
  // The same device as seen on the remote machine (the mask removed).
  Device Local() const { return is_remote() ? Device{type - kRemoteDeviceMask, id} : *this; }
  // The device `d` of the remote machine, as the client refers to it.
  static Device Remote(Device d) { return Device{d.type + kRemoteDeviceMask, d.id}; }

  // "cpu(0)", "cuda(1)", "remote:cpu(0)".
  std::string ToString() const;

  friend bool operator==(const Device& a, const Device& b) {
    return a.type == b.type && a.id == b.id;
  }
};

// Parses "cpu", "cpu(0)", "cpu:0", "cuda(1)", "cuda:1". Unknown names: kInvalidArgument.
StatusOr<Device> ParseDevice(const std::string& text);

// "cpu", "cuda", or "device_type_N" for types Ferry has no name for.
std::string DeviceTypeName(int32_t type);

}  // namespace ferry

#endif  // FERRY_RUNTIME_DEVICE_H_
