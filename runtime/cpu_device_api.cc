#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/device_api.h"

namespace ferry {
namespace {

// Large arrays are mappings of their own, and a freed one is kept for the next large array
// that fits it, so that repeatedly allocating large arrays (a remote output copied into a new
// host array, a large argument staged in a session worker) does not land every byte on a
// fresh page: a fresh page costs a fault and zeroing, and on the VMs these were measured on
// 256 MiB first touched ran at 1.2-2.9 GB/s against 12 GB/s into kept pages. Like malloc's
// heap, this holds freed memory: at most kKeptMappings mappings and kKeptBytes, each given
// back (unmapped) at the first large allocation or free more than kKeepFor after it was
// freed, and none at all in a process with an address-space limit (a session worker under
// --worker-max-memory), where held memory could make other allocations fail.
//
// Measured alternatives (allocate 256 MiB, copy into it, free; repeated): MAP_POPULATE gained
// 5-7% over faulting 4 KiB pages on first touch; MADV_HUGEPAGE on a 2 MiB-aligned mapping ran
// at 12 GB/s when the freed huge pages were reused at once but at 0.5 GB/s when they had been
// free for a second or more, slower than 4 KiB pages, because the VM's balloon reports free
// 2 MiB blocks to the host, which then backs them anew; keeping freed mappings as MADV_FREE
// (reclaimable) cost 5 ms per 256 MiB freed and doubled the time to rewrite them.
//
// Smaller arrays come from malloc, whose heap reuses freed memory on its own.
constexpr size_t kLargeArrayBytes = size_t{16} << 20;
constexpr size_t kPageBytes = 4096;
constexpr size_t kKeptMappings = 2;
constexpr size_t kKeptBytes = size_t{512} << 20;
constexpr auto kKeepFor = std::chrono::seconds(10);

// Whether this process may keep freed mappings: it has no address-space limit.
bool MayKeepMappings() {
  static const bool may = [] {
    rlimit limit{};
    return getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur == RLIM_INFINITY;
  }();
  return may;
}

// The mappings made for large arrays. Thread-safe.
class LargeMappings {
 public:
  // A page-aligned mapping of at least `bytes`: a kept one of at most twice the length
  // needed, else a new one (kept ones are unmapped to make room when the kernel refuses).
  // Null when the kernel refuses one even then.
  void* Map(size_t bytes) {
    const size_t length = (bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
    std::vector<Mapping> unmap;
    void* data = nullptr;
    {
      std::lock_guard lock(mutex_);
      Age(unmap);
      auto best = kept_.end();
      for (auto it = kept_.begin(); it != kept_.end(); ++it) {
        if (it->length >= length && it->length / 2 <= length &&
            (best == kept_.end() || it->length < best->length)) {
          best = it;
        }
      }
      if (best != kept_.end()) {
        data = best->data;
        live_[data] = best->length;
        kept_bytes_ -= best->length;
        kept_.erase(best);
      }
    }
    Unmap(unmap);
    if (data != nullptr) return data;
    data = NewMapping(length);
    if (data == nullptr) {
      {
        std::lock_guard lock(mutex_);
        unmap.swap(kept_);
        kept_bytes_ = 0;
      }
      Unmap(unmap);
      data = NewMapping(length);
      if (data == nullptr) return nullptr;
    }
    std::lock_guard lock(mutex_);
    live_[data] = length;
    return data;
  }

  // Releases `data` when it is one of these mappings (keeping it for reuse, or unmapping
  // it); false otherwise.
  bool Release(void* data) {
    std::vector<Mapping> unmap;
    {
      std::lock_guard lock(mutex_);
      auto it = live_.find(data);
      if (it == live_.end()) return false;
      const Mapping released{data, it->second, Clock::now()};
      live_.erase(it);
      Age(unmap);
      if (MayKeepMappings() && released.length <= kKeptBytes) {
        kept_.push_back(released);
        kept_bytes_ += released.length;
        // The oldest go first.
        while (kept_.size() > kKeptMappings || kept_bytes_ > kKeptBytes) {
          unmap.push_back(kept_.front());
          kept_bytes_ -= kept_.front().length;
          kept_.erase(kept_.begin());
        }
      } else {
        unmap.push_back(released);
      }
    }
    Unmap(unmap);
    return true;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Mapping {
    void* data = nullptr;
    size_t length = 0;
    Clock::time_point freed;
  };

  static void* NewMapping(size_t length) {
    void* data =
        ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return data == MAP_FAILED ? nullptr : data;
  }
  static void Unmap(const std::vector<Mapping>& mappings) {
    for (const Mapping& m : mappings) ::munmap(m.data, m.length);
  }
  // Moves the kept mappings freed more than kKeepFor ago to `unmap` (mutex_ held).
  void Age(std::vector<Mapping>& unmap) {
    const Clock::time_point now = Clock::now();
    while (!kept_.empty() && now - kept_.front().freed > kKeepFor) {
      unmap.push_back(kept_.front());
      kept_bytes_ -= kept_.front().length;
      kept_.erase(kept_.begin());
    }
  }

  std::mutex mutex_;
  std::unordered_map<void*, size_t> live_;  // start -> length
  std::vector<Mapping> kept_;               // oldest first
  size_t kept_bytes_ = 0;
};

LargeMappings& Mappings() {
  static LargeMappings* mappings = new LargeMappings();  // never destroyed: arrays may outlive exit
  return *mappings;
}

class CpuDeviceApi final : public DeviceApi {
 public:
  StatusOr<void*> Allocate(Device device, size_t bytes, size_t alignment) override {
    if (alignment < sizeof(void*)) alignment = sizeof(void*);
    if (bytes >= kLargeArrayBytes && alignment <= kPageBytes) {
      if (void* data = Mappings().Map(bytes)) return data;
    }
    void* ptr = nullptr;
    // posix_memalign with size 0 may return null; always allocate at least one byte so a
    // valid tensor has a valid pointer.
    if (posix_memalign(&ptr, alignment, bytes == 0 ? 1 : bytes) != 0) {
      return ResourceExhaustedError("cannot allocate " + std::to_string(bytes) +
                                    " bytes on cpu");
    }
    return ptr;
  }

  void Free(Device, void* ptr) override {
    // A large array's mapping starts on a page boundary, which few of malloc's blocks do.
    if (ptr != nullptr && reinterpret_cast<uintptr_t>(ptr) % kPageBytes == 0 &&
        Mappings().Release(ptr)) {
      return;
    }
    std::free(ptr);
  }

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
