// The `_ferry` extension module: wires the parts declared in bindings.h together. The
// pure-Python package `ferry` (python/ferry/) re-exports these names under TVM's.
#include <pybind11/pybind11.h>

#include "bindings.h"

PYBIND11_MODULE(_ferry, m) {
  m.doc() = "Ferry's C++ runtime, compiler and RPC client (use the `ferry` package)";
  ferry::python::BindErrors(m);
  ferry::python::BindRuntime(m);
  ferry::python::BindArrays(m);
#ifdef FERRY_PYTHON_HAVE_COMPILER
  ferry::python::BindCompiler(m);
#endif
#ifdef FERRY_PYTHON_HAVE_RPC
  ferry::python::BindRpc(m);
#endif
}
