// Python objects <-> ferry::Value, device and dtype arguments, and calling a PackedFunc with
// the GIL released (optionally interruptible by Ctrl-C).
#include <Python.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bindings.h"

namespace py = pybind11;

namespace ferry::python {
namespace {

std::string TypeName(const py::handle& object) {
  return py::str(object.get_type().attr("__name__"));
}

// A Python object that may be released from any thread: the deleter takes the GIL.
std::shared_ptr<py::object> ShareAcrossThreads(py::object object) {
  return std::shared_ptr<py::object>(new py::object(std::move(object)), [](py::object* o) {
    if (!Py_IsInitialized()) {
      o->release();  // the interpreter is gone; leak rather than touch it
      delete o;
      return;
    }
    py::gil_scoped_acquire gil;
    delete o;
  });
}

// A Python callable as a PackedFunc; a Python exception becomes kInternal with its text.
PackedFunc WrapCallable(py::object callable) {
  auto shared = ShareAcrossThreads(std::move(callable));
  return PackedFunc([shared](std::span<const Value> args) -> StatusOr<Value> {
    py::gil_scoped_acquire gil;
    try {
      py::tuple py_args(args.size());
      for (size_t i = 0; i < args.size(); ++i) py_args[i] = FromValue(args[i]);
      py::object result = (*shared)(*py_args);
      return ToValue(result);
    } catch (py::error_already_set& e) {
      return InternalError(std::string("Python callback raised ") + e.what());
    } catch (const StatusError& e) {
      return e.status();
    } catch (const std::exception& e) {
      return InternalError(std::string("Python callback failed: ") + e.what());
    }
  });
}

// Interruptible calls still running (abandoned ones included); see WaitForPendingCalls.
std::mutex g_pending_mutex;
std::condition_variable g_pending_done;
int g_pending_calls = 0;

}  // namespace

bool WaitForPendingCalls(double timeout_s) {
  py::gil_scoped_release release;
  std::unique_lock<std::mutex> lock(g_pending_mutex);
  return g_pending_done.wait_for(lock, std::chrono::duration<double>(timeout_s),
                                 [] { return g_pending_calls == 0; });
}

Device ToDevice(const py::handle& object) {
  if (py::isinstance<Device>(object)) return object.cast<Device>();
  if (py::hasattr(object, "_ferry_device")) return object.attr("_ferry_device").cast<Device>();
  if (py::isinstance<py::str>(object)) return Unwrap(ParseDevice(object.cast<std::string>()));
  throw py::type_error("expected a device (ferry.cpu(0), remote.cpu(0) or \"cpu:0\"), got " +
                       TypeName(object));
}

DataType ToDataType(const py::handle& object) {
  if (py::isinstance<DataType>(object)) return object.cast<DataType>();
  if (py::isinstance<py::str>(object)) return Unwrap(ParseDataType(object.cast<std::string>()));
  // numpy dtypes, numpy scalar types (np.float32) and Python types numpy understands.
  py::dtype dt;
  try {
    dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(object));
  } catch (py::error_already_set&) {
    throw py::type_error("expected a dtype (\"float32\", numpy.float32, ...), got " +
                         TypeName(object));
  }
  char kind = dt.kind();
  int bits = static_cast<int>(dt.itemsize()) * 8;
  switch (kind) {
    case 'b':
      return DataType::Bool();
    case 'i':
      return DataType{kDLInt, static_cast<uint8_t>(bits), 1};
    case 'u':
      return DataType{kDLUInt, static_cast<uint8_t>(bits), 1};
    case 'f':
      if (bits == 16 || bits == 32 || bits == 64) {
        return DataType{kDLFloat, static_cast<uint8_t>(bits), 1};
      }
      break;
    default:
      break;
  }
  throw py::type_error("numpy dtype " + std::string(py::str(dt)) + " has no Ferry data type");
}

py::dtype ToNumpyDtype(DataType dtype) {
  if (dtype.lanes == 1) {
    if (dtype == DataType::Bool()) return py::dtype("bool");
    if (dtype.code == kDLInt || dtype.code == kDLUInt || dtype.code == kDLFloat) {
      return py::dtype(dtype.ToString());
    }
  }
  throw py::type_error("data type " + dtype.ToString() + " has no numpy equivalent");
}

Value ToValue(const py::handle& object) {
  if (object.is_none()) return Value();
  if (py::isinstance<py::bool_>(object)) return Value(object.cast<bool>());
  if (py::isinstance<py::int_>(object)) return Value(object.cast<int64_t>());
  if (py::isinstance<py::float_>(object)) return Value(object.cast<double>());
  if (py::isinstance<py::str>(object)) return Value(object.cast<std::string>());
  if (py::isinstance<py::bytes>(object)) return Value(Bytes{object.cast<std::string>()});
  if (PyByteArray_Check(object.ptr())) {
    return Value(Bytes{std::string(PyByteArray_AsString(object.ptr()),
                                   static_cast<size_t>(PyByteArray_Size(object.ptr())))});
  }
  if (py::isinstance<Device>(object)) return Value(object.cast<Device>());
  if (py::isinstance<DataType>(object)) return Value(object.cast<DataType>());
  if (py::isinstance<NDArray>(object)) return Value(object.cast<NDArray>());
  if (py::isinstance<Module>(object)) return Value(object.cast<Module>());
  if (py::isinstance<Function>(object)) return Value(object.cast<const Function&>().func);
  if (py::isinstance<py::array>(object)) {
    return Value(
        NDArrayFromNumpy(py::reinterpret_borrow<py::array>(object), py::cast(Device::Cpu(0))));
  }
  // numpy scalars (np.int64(3), np.float32(1.5), np.bool_(True)).
  py::module_ numpy = py::module_::import("numpy");
  if (py::isinstance(object, numpy.attr("bool_"))) return Value(object.cast<bool>());
  if (py::isinstance(object, numpy.attr("integer"))) {
    return Value(py::int_(py::reinterpret_borrow<py::object>(object)).cast<int64_t>());
  }
  if (py::isinstance(object, numpy.attr("floating"))) {
    return Value(py::float_(py::reinterpret_borrow<py::object>(object)).cast<double>());
  }
  if (py::hasattr(object, "_ferry_device")) return Value(ToDevice(object));
  if (py::hasattr(object, "__dlpack__")) return Value(NDArrayFromDLPackObject(object));
  if (PyCallable_Check(object.ptr())) {
    return Value(WrapCallable(py::reinterpret_borrow<py::object>(object)));
  }
  throw py::type_error("cannot pass a " + TypeName(object) + " to a Ferry function");
}

py::object FromValue(Value value) {
  switch (value.kind()) {
    case Value::Kind::kNull:
      return py::none();
    case Value::Kind::kBool:
      return py::bool_(*value.As<bool>());
    case Value::Kind::kInt:
      return py::int_(*value.As<int64_t>());
    case Value::Kind::kFloat:
      return py::float_(*value.As<double>());
    case Value::Kind::kString:
      return py::str(*value.As<std::string>());
    case Value::Kind::kBytes:
      return py::bytes(value.As<Bytes>()->data);
    case Value::Kind::kDevice:
      return py::cast(*value.As<Device>());
    case Value::Kind::kDataType:
      return py::cast(*value.As<DataType>());
    case Value::Kind::kNDArray:
      return py::cast(*value.As<NDArray>());
    case Value::Kind::kModule:
      return py::cast(*value.As<Module>());
    case Value::Kind::kPackedFunc:
      return py::cast(Function{*value.As<PackedFunc>(), "", false, false});
  }
  return py::none();
}

StatusOr<Value> CallFunction(const PackedFunc& func, std::vector<Value> args, bool interruptible) {
  if (!interruptible) {
    py::gil_scoped_release release;
    return func.CallPacked(args);
  }
  // The call owns its arguments and result, so an abandoned call finishes safely on its own.
  struct Call {
    PackedFunc func;
    std::vector<Value> args;
    std::promise<StatusOr<Value>> result;
  };
  auto call = std::make_shared<Call>(Call{func, std::move(args), {}});
  std::future<StatusOr<Value>> future = call->result.get_future();
  {
    py::gil_scoped_release release;
    {
      std::lock_guard<std::mutex> lock(g_pending_mutex);
      ++g_pending_calls;
    }
    std::thread([call]() mutable {
      try {
        call->result.set_value(call->func.CallPacked(call->args));
      } catch (...) {
        call->result.set_exception(std::current_exception());
      }
      call.reset();  // everything the call held goes before it counts as done
      std::lock_guard<std::mutex> lock(g_pending_mutex);
      if (--g_pending_calls == 0) g_pending_done.notify_all();
    }).detach();
    while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }
  return future.get();
}

}  // namespace ferry::python
