#!/usr/bin/env python3
"""The module-based runtime interface of TVM's RFC (apache/tvm#5038) in Ferry's names, run here.

    PYTHONPATH=build/python /usr/bin/python3 examples/rfc_local.py [WORK_DIR] [MODEL.onnx]

Builds a model (the zoo's `cnn`, or an ONNX file), exports it as one shared library with its
parameters inside and once without them, loads it back, creates a runtime on the CPU with the
factory, and drives it with set_input / run / get_output: first through the raw functions,
then through the graph_executor wrapper. Prints the output and exits non-zero when the ways
disagree. examples/rfc_remote.py runs the same lines on a device granted by a tracker.
"""
import os
import sys
import tempfile

import numpy as np

import ferry
from ferry import graph_executor


def build(onnx_path=None):
    """The factory module (graph + params + kernels) and its key."""
    if onnx_path:
        lib = ferry.build_onnx(onnx_path)  # key: the file's stem, unless name= says otherwise
        return lib, os.path.splitext(os.path.basename(onnx_path))[0]
    return ferry.build_zoo("cnn"), "cnn"


def main(argv):
    work_dir = argv[1] if len(argv) > 1 else tempfile.mkdtemp(prefix="ferry-rfc-")
    factory, key = build(argv[2] if len(argv) > 2 else None)
    dev = ferry.cpu(0)

    # Export: one .so with the parameters inside, and one without (they go to LIB.params).
    path = os.path.join(work_dir, key + ".so")
    factory.export_library(path)
    path_no_params = os.path.join(work_dir, key + "_no_params.so")
    factory.export_library(path_no_params, package_params=False)

    lib = ferry.load_module(path)
    gmod_info = graph_executor.GraphModule(lib[key](dev))
    shapes, dtypes = gmod_info.get_input_info()
    name = next(iter(shapes))
    data = np.random.default_rng(0).standard_normal(shapes[name]).astype(dtypes[name])

    # --- the RFC's example ------------------------------------------------------------------
    # lib = load_module(...); gmod = lib[key](dev); set_input / run / get_output
    lib = ferry.load_module(path)
    gmod = lib[key](dev)
    gmod["set_input"](name, data)
    gmod["run"]()
    out = gmod["get_output"](0).numpy()

    # Without packaged parameters: load them into the runtime first.
    lib = ferry.load_module(path_no_params)
    gmod = lib[key](dev)
    gmod["load_params"](open(path_no_params + ".params", "rb").read())
    gmod["set_input"](**{name: data})
    gmod["run"]()
    out_no_params = gmod["get_output"](0).numpy()

    # The wrapper.
    gmod = graph_executor.GraphModule(ferry.load_module(path)[key](dev))
    gmod.set_input(name, data)
    gmod.run()
    out_wrapper = gmod.get_output(0).numpy()
    # ---------------------------------------------------------------------------------------

    # The factory runs without exporting, too.
    gmod = graph_executor.create(factory[key], dev)
    gmod.set_input(**{name: data})
    gmod.run()
    out_factory = gmod.get_output(0).numpy()

    print("model %s on %r: output %s %s" % (key, dev, out.shape, out.dtype))
    print(np.array2string(out, precision=5))
    ok = (np.array_equal(out, out_no_params) and np.array_equal(out, out_wrapper)
          and np.array_equal(out, out_factory))
    print("with params == without params == wrapper == factory: %s" % ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
