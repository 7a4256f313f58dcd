// NDArray, numpy conversion and DLPack.
#include <pybind11/pybind11.h>

#include "bindings.h"

namespace py = pybind11;

namespace ferry::python {

void BindArrays(py::module_& m) {}

}  // namespace ferry::python
