#include "runtime/time_evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "runtime/device_api.h"
#include "runtime/value.h"

namespace ferry {

StatusOr<PackedFunc> TimeEvaluator(const Module& module, const std::string& name, Device device,
                                   TimeEvaluatorOptions options) {
  if (options.number < 1 || options.repeat < 1) {
    return InvalidArgumentError("time_evaluator: number and repeat must be at least 1");
  }
  if (options.min_repeat_ms < 0 || options.cooldown_ms < 0) {
    return InvalidArgumentError("time_evaluator: min_repeat_ms and cooldown_ms must be >= 0");
  }
  ASSIGN_OR_RETURN(PackedFunc func, module.GetFunction(name, /*query_imports=*/true));
  ASSIGN_OR_RETURN(DeviceApi * api, GetDeviceApi(device.type));
  return PackedFunc([func, api, device, options](std::span<const Value> args) -> StatusOr<Value> {
    using Clock = std::chrono::steady_clock;
    RETURN_IF_ERROR(func.CallPacked(args).status());  // warm-up
    RETURN_IF_ERROR(api->Synchronize(device));
    ASSIGN_OR_RETURN(NDArray results,
                     NDArray::Empty({options.repeat}, DataType::Float64(), Device::Cpu()));
    double* seconds = results.data_as<double>();
    int64_t number = options.number;
    for (int r = 0; r < options.repeat; ++r) {
      if (r > 0 && options.cooldown_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options.cooldown_ms));
      }
      double elapsed_ms = 0;
      while (true) {
        const Clock::time_point start = Clock::now();
        for (int64_t i = 0; i < number; ++i) RETURN_IF_ERROR(func.CallPacked(args).status());
        RETURN_IF_ERROR(api->Synchronize(device));
        elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (elapsed_ms >= options.min_repeat_ms) break;
        // TVM's rule: aim at min_repeat_ms from the measured rate, growing by at least the
        // golden ratio.
        const double per_call_ms = elapsed_ms / static_cast<double>(number);
        const double target = per_call_ms > 0 ? options.min_repeat_ms / per_call_ms + 1 : 0;
        number = std::max(static_cast<int64_t>(target),
                          static_cast<int64_t>(std::ceil(static_cast<double>(number) * 1.618)));
      }
      seconds[r] = elapsed_ms / 1e3 / static_cast<double>(number);
    }
    return Value(results);
  });
}

}  // namespace ferry
