#include "runtime/device_api.h"

#include "runtime/build_config.h"

namespace ferry {

DeviceApi* CpuDeviceApiInstance();
#if FERRY_HAVE_CUDA
DeviceApi* CudaDeviceApiInstance();
#endif

StatusOr<DeviceApi*> GetDeviceApi(int32_t type) {
  switch (type) {
    case kDLCPU:
      return CpuDeviceApiInstance();
#if FERRY_HAVE_CUDA
    case kDLCUDA:
      return CudaDeviceApiInstance();
#endif
    default:
      return UnimplementedError("this build of Ferry has no support for device type " +
                                DeviceTypeName(type));
  }
}

}  // namespace ferry
