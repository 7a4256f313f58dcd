// Shared declarations of the `_ferry` extension module (python/src/).
//
// Each Bind* function adds one part of the API to the extension module; module.cc calls them
// in order (errors first, so every later part can raise Ferry's exceptions). Helpers here turn
// Ferry's Status values into Python exceptions and Ferry Values into Python objects and back.
//
// All functions here must be called with the GIL held.
#ifndef FERRY_PYTHON_SRC_BINDINGS_H_
#define FERRY_PYTHON_SRC_BINDINGS_H_

#include <pybind11/pybind11.h>

#include <utility>

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
