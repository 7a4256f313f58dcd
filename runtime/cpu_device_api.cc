#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "runtime/device_api.h"

namespace ferry {
namespace {

class CpuDeviceApi final : public DeviceApi {
 public:
  StatusOr<void*> Allocate(Device device, size_t bytes, size_t alignment) override {
    if (alignment < sizeof(void*)) alignment = sizeof(void*);
    void* ptr = nullptr;
    // posix_memalign with size 0 may return null; always allocate at least one byte so a
    // valid tensor has a valid pointer.
    if (posix_memalign(&ptr, alignment, bytes == 0 ? 1 : bytes) != 0) {
      return ResourceExhaustedError("cannot allocate " + std::to_string(bytes) +
                                    " bytes on cpu");
    }
    return ptr;
  }

  void Free(Device, void* ptr) override { std::free(ptr); }

  Status Copy(const void* from, Device from_device, void* to, Device to_device,
              size_t bytes) override {
    if (from_device.type != kDLCPU || to_device.type != kDLCPU) {
      return InternalError("cpu device api asked to copy between " + from_device.ToString() +
                           " and " + to_device.ToString());
    }
    if (bytes != 0) std::memmove(to, from, bytes);
    return Status::Ok();
  }

  Status Synchronize(Device) override { return Status::Ok(); }

  DeviceAttributes GetAttributes(Device device) override {
    DeviceAttributes attrs;
    attrs.exists = device.id == 0;
    attrs.name = "cpu";
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
      if (line.rfind("model name", 0) == 0) {
        size_t colon = line.find(':');
        if (colon != std::string::npos && colon + 2 <= line.size()) attrs.name = line.substr(colon + 2);
        break;
      }
    }
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0) attrs.total_memory = static_cast<size_t>(pages) * page_size;
    attrs.compute_units = static_cast<int>(std::thread::hardware_concurrency());
    return attrs;
  }
};

}  // namespace

DeviceApi* CpuDeviceApiInstance() {
  static CpuDeviceApi api;
  return &api;
}

}  // namespace ferry
