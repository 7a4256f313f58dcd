// Ferry's Status codes as Python exceptions.
//
//   kInvalidArgument    -> ValueError
//   kNotFound           -> ferry.NotFoundError (a LookupError)
//   kUnavailable        -> ConnectionError
//   kDeadlineExceeded   -> TimeoutError
//   kPermissionDenied   -> PermissionError
//   kResourceExhausted  -> ferry.ResourceExhaustedError (a RuntimeError)
//   kUnimplemented      -> NotImplementedError
//   kFailedPrecondition -> ferry.FailedPreconditionError (a RuntimeError)
//   kInternal           -> RuntimeError
// Each exception's message is the C++ message; its `status_code` attribute is the code's
// stable name ("NOT_FOUND", ...).
#include <Python.h>

#include <string>

#include "bindings.h"

namespace py = pybind11;

namespace ferry::python {
namespace {

// Created once by BindErrors; owned by the module (never freed while the interpreter runs).
PyObject* g_not_found = nullptr;
PyObject* g_resource_exhausted = nullptr;
PyObject* g_failed_precondition = nullptr;

PyObject* NewException(py::module_& m, const char* name, PyObject* base, const char* doc) {
  std::string qualified = std::string("ferry.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base, nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));  // steals nothing: add_object increfs
  return type;
}

void Raise(const Status& status) {
  py::handle type = ExceptionTypeFor(status.code());
  py::object instance = type(status.message());
  instance.attr("status_code") = std::string(StatusCodeName(status.code()));
  PyErr_SetObject(type.ptr(), instance.ptr());
}

}  // namespace

py::handle ExceptionTypeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return PyExc_ValueError;
    case StatusCode::kNotFound:
      return g_not_found;
    case StatusCode::kUnavailable:
      return PyExc_ConnectionError;
    case StatusCode::kDeadlineExceeded:
      return PyExc_TimeoutError;
    case StatusCode::kPermissionDenied:
      return PyExc_PermissionError;
    case StatusCode::kResourceExhausted:
      return g_resource_exhausted;
    case StatusCode::kUnimplemented:
      return PyExc_NotImplementedError;
    case StatusCode::kFailedPrecondition:
      return g_failed_precondition;
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  return PyExc_RuntimeError;
}

void BindErrors(py::module_& m) {
  g_not_found = NewException(m, "NotFoundError", PyExc_LookupError,
                             "A named thing (file, function, model, input) does not exist.");
  g_resource_exhausted =
      NewException(m, "ResourceExhaustedError", PyExc_RuntimeError,
                   "Out of memory, quota or capacity; back off and retry later.");
  g_failed_precondition =
      NewException(m, "FailedPreconditionError", PyExc_RuntimeError,
                   "The object is not in the state the call needs (e.g. params not loaded).");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      Raise(e.status());
    }
  });
}

}  // namespace ferry::python
