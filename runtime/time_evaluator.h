// time_evaluator: times a module's function the way TVM's Module.time_evaluator does.
//
// The returned PackedFunc takes the timed function's arguments. It calls the function once
// to warm up, then runs `repeat` repeats; each repeat calls it `number` times back to back
// and synchronises `device`. When min_repeat_ms > 0 and a repeat finished faster, `number`
// is raised (to the estimate that reaches min_repeat_ms, growing by at least 1.618x, as
// TVM does) and the repeat is
// measured again. Between repeats it sleeps cooldown_ms. It returns an NDArray of float64
// [repeat] on the CPU holding each repeat's mean seconds per call. Any error of the timed
// function is returned as is.
#ifndef FERRY_RUNTIME_TIME_EVALUATOR_H_
#define FERRY_RUNTIME_TIME_EVALUATOR_H_

#include <string>

#include "runtime/device.h"
#include "runtime/module.h"
#include "runtime/packed_func.h"

namespace ferry {

struct TimeEvaluatorOptions {
  int number = 1;
  int repeat = 1;
  int min_repeat_ms = 0;
  int cooldown_ms = 0;
};

// Errors: kNotFound when `module` has no function `name` (imports included);
// kInvalidArgument for number < 1, repeat < 1, or negative milliseconds.
StatusOr<PackedFunc> TimeEvaluator(const Module& module, const std::string& name, Device device,
                                   TimeEvaluatorOptions options);

}  // namespace ferry

#endif  // FERRY_RUNTIME_TIME_EVALUATOR_H_
