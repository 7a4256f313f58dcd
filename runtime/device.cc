#include "runtime/device.h"

#include <charconv>

#include "runtime/check.h"

namespace ferry {

std::string DeviceTypeName(int32_t type) {
  switch (type) {
    case kDLCPU:
      return "cpu";
    case kDLCUDA:
      return "cuda";
    default:
      return "device_type_" + std::to_string(static_cast<int>(type));
  }
}

DLDevice Device::ToDL() const {
  FERRY_CHECK(!is_remote()) << "DLPack has no form for the remote device " << ToString();
  return DLDevice{static_cast<DLDeviceType>(type), id};
}

std::string Device::ToString() const {
  if (is_remote()) return "remote:" + Local().ToString();
  return DeviceTypeName(type) + "(" + std::to_string(id) + ")";
}

StatusOr<Device> ParseDevice(const std::string& text) {
  std::string name = text;
  int id = 0;
  size_t open = text.find_first_of("(:");
  if (open != std::string::npos) {
    name = text.substr(0, open);
    std::string digits = text.substr(open + 1);
    if (text[open] == '(') {
      if (digits.empty() || digits.back() != ')') {
        return InvalidArgumentError("malformed device '" + text + "'");
      }
      digits.pop_back();
    }
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || id < 0) {
      return InvalidArgumentError("malformed device ordinal in '" + text + "'");
    }
  }
  if (name == "cpu") return Device::Cpu(id);
  if (name == "cuda" || name == "gpu") return Device::Cuda(id);
  return InvalidArgumentError("unknown device '" + text + "' (expected cpu or cuda)");
}

}  // namespace ferry
