// Shared declarations of the `_ferry` extension module (python/src/).
//
// Each Bind* function adds one part of the API to the extension module; module.cc calls them
// in order (errors first, so every later part can raise Ferry's exceptions). Helpers here turn
// Ferry's Status values into Python exceptions and Ferry Values into Python objects and back.
//
// All functions here must be called with the GIL held.
#ifndef FERRY_PYTHON_SRC_BINDINGS_H_
#define FERRY_PYTHON_SRC_BINDINGS_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/data_type.h"
#include "runtime/device.h"
#include "runtime/ndarray.h"
#include "runtime/status.h"
#include "runtime/value.h"

namespace ferry::python {

// errors.cc: the exception classes (ferry.NotFoundError, ...) and the translator that turns a
// thrown ferry::StatusError into the Python exception chosen by its code.
void BindErrors(pybind11::module_& m);
// runtime_bindings.cc: Device, DataType, Module, PackedFunc, load_module, time_evaluator.
void BindRuntime(pybind11::module_& m);
// array_bindings.cc: NDArray, numpy conversion and DLPack.
void BindArrays(pybind11::module_& m);
// compiler_bindings.cc: build_onnx, build_zoo and the factory module they return.
void BindCompiler(pybind11::module_& m);
// rpc_bindings.cc: sessions and the tracker client.
void BindRpc(pybind11::module_& m);

// Raises the Python exception for `status` (see errors.cc) unless it is OK. It throws a
// ferry::StatusError, which the translator registered by BindErrors converts; the exception
// carries the C++ message and a `status_code` attribute ("NOT_FOUND", ...).
inline void Check(const Status& status) {
  if (!status.ok()) throw StatusError(status);
}

// The value of `result`, or raises its error like Check.
template <class T>
T Unwrap(StatusOr<T> result) {
  if (!result.ok()) throw StatusError(result.status());
  return std::move(result).value();
}

// The Python exception class for `code` (e.g. ValueError for kInvalidArgument). Valid after
// BindErrors.
pybind11::handle ExceptionTypeFor(StatusCode code);

// The bound class behind `_ferry.PackedFunc`: a function plus how Python calls it.
//   name:          for repr and messages ("" when unknown).
//   keyword_pairs: `f(a=x, b=y)` calls f("a", x) then f("b", y) (set_input of an executor).
//   interruptible: calls run on a helper thread while the caller waits with the GIL released,
//                  checking for Ctrl-C every 100 ms (CallInterruptibly). Set for functions of
//                  remote modules (type key "rpc:...") and time evaluators; local functions
//                  run on the calling thread (a running kernel cannot be stopped safely).
struct Function {
  PackedFunc func;
  std::string name;
  bool keyword_pairs = false;
  bool interruptible = false;
};

// Calls `func` with the GIL released. When `interruptible`, the call runs on its own thread
// and the caller checks Python's signal handlers every 100 ms; a KeyboardInterrupt (or any
// exception a handler raises) is raised at once while the abandoned call finishes on its own
// thread and its result is dropped (remote calls are bounded by the session deadline).
StatusOr<Value> CallFunction(const PackedFunc& func, std::vector<Value> args, bool interruptible);
// Waits (GIL released) up to `timeout_s` for interruptible calls still running, including ones
// abandoned by Ctrl-C; true when none is left. The package calls it at exit, so that no call
// runs on while the process tears down its libraries.
bool WaitForPendingCalls(double timeout_s);

// Remote devices, duck-typed so the rpc part stays separate from the runtime part. Where the
// runtime bindings take a device (`nd.array`, `nd.empty`, `copyto`, factory arguments,
// `time_evaluator`) they accept a `_ferry.Device` or any object with:
//   _ferry_device: the Device (a remote one carries kRemoteDeviceMask), used when passed as a
//                  PackedFunc argument;
//   _ferry_empty(shape: list[int], dtype: str) -> NDArray: allocates on that device;
//   _ferry_time_evaluator(module, name, number, repeat, min_repeat_ms, cooldown_ms)
//                  -> PackedFunc returning an NDArray of seconds (time evaluation there).
// A bare remote `_ferry.Device` has no session, so allocating on it raises ValueError.

// A device argument: a Device, an object with `_ferry_device`, or a string ("cpu:0").
// Others: TypeError.
Device ToDevice(const pybind11::handle& object);
// A dtype argument: a DataType, a string ("float32") or anything numpy.dtype() accepts.
DataType ToDataType(const pybind11::handle& object);
// The numpy dtype of `dtype`; TypeError for types numpy lacks (e.g. bfloat16, vectors).
pybind11::dtype ToNumpyDtype(DataType dtype);

// array_bindings.cc: a new array on `device` (any device argument, see above) holding a copy
// of `array` (converted to C order). Errors: TypeError for a dtype Ferry lacks.
NDArray NDArrayFromNumpy(const pybind11::array& array, const pybind11::handle& device);
// An array sharing the memory of `object`'s __dlpack__ (a torch tensor, a numpy array), kept
// alive until the last copy of the NDArray goes. Errors: ValueError for a non-compact tensor.
NDArray NDArrayFromDLPackObject(const pybind11::handle& object);

// value_conversion.cc: a Python object as a Value. None, bool, int, float, str, bytes,
// Device, DataType, NDArray, Module and PackedFunc map to their kinds; a numpy array is copied
// into a new CPU NDArray; an object with __dlpack__ (a torch tensor) is shared without copying;
// any other callable becomes a PackedFunc that calls back into Python (holding the GIL).
// Other objects raise TypeError.
Value ToValue(const pybind11::handle& object);
// A Value as a Python object (the inverse of ToValue; Bytes become `bytes`).
pybind11::object FromValue(Value value);

}  // namespace ferry::python

#endif  // FERRY_PYTHON_SRC_BINDINGS_H_
