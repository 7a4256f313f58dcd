"""Building from Python: ferry.build_zoo / ferry.build_onnx return a factory module that runs
here (lib[key](dev)) and exports one shared library, with or without its parameters."""
from pathlib import Path

import numpy as np
import pytest

from conftest import zoo_input


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    """A small ONNX model `tiny.onnx`: relu(data[N,4] @ W + b) with a dynamic batch N, and
    a numpy function computing the same."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["data", "w"], ["mm"]),
         helper.make_node("Add", ["mm", "b"], ["sum"]),
         helper.make_node("Relu", ["sum"], ["out"])],
        "tiny",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    onnx.save(model, str(path))
    return path, (lambda x: np.maximum(x @ w + b, 0))


def run_factory(ferry, lib, key, x):
    gmod = ferry.graph_executor.create(lib[key], ferry.cpu(0))
    gmod.set_input(data=x)
    gmod.run()
    return gmod.get_output(0).numpy()


def test_build_zoo_runs_here(ferry, zoo_libs, reference_output):
    lib = ferry.build_zoo("mlp")
    assert "mlp" in repr(lib) or "Module" in repr(lib)
    x = zoo_input("mlp", seed=31)
    # Same default seed as `ferry build --zoo mlp`: the same result bit for bit.
    np.testing.assert_array_equal(run_factory(ferry, lib, "mlp", x),
                                  reference_output(zoo_libs["mlp"], x))


def test_build_zoo_name_and_aot(ferry, zoo_libs, reference_output):
    lib = ferry.build_zoo("cnn", executor="aot", name="small")
    x = zoo_input("cnn", seed=32)
    np.testing.assert_array_equal(run_factory(ferry, lib, "small", x),
                                  reference_output(zoo_libs["cnn"], x))
    with pytest.raises(LookupError):
        lib["cnn"]


def test_export_library_with_params(ferry, tmp_path, zoo_libs, reference_output):
    lib = ferry.build_zoo("cnn")
    path = tmp_path / "cnn.so"
    lib.export_library(str(path))
    assert path.exists() and not Path(str(path) + ".params").exists()
    loaded = ferry.load_module(str(path))
    x = zoo_input("cnn", seed=33)
    np.testing.assert_array_equal(run_factory(ferry, loaded, "cnn", x),
                                  reference_output(zoo_libs["cnn"], x))


def test_export_library_without_params(ferry, tmp_path, zoo_libs, reference_output):
    lib = ferry.build_zoo("mlp")
    path = tmp_path / "mlp.so"
    lib.export_library(str(path), package_params=False)
    params = Path(str(path) + ".params")
    assert path.exists() and params.exists()
    loaded = ferry.load_module(str(path))
    gmod = ferry.graph_executor.GraphModule(loaded["mlp"](ferry.cpu(0)))
    gmod.load_params(params.read_bytes())
    x = zoo_input("mlp", seed=34)
    gmod.set_input(data=x)
    gmod.run()
    np.testing.assert_array_equal(gmod.get_output(0).numpy(), reference_output(zoo_libs["mlp"], x))


def test_build_onnx(ferry, onnx_model, tmp_path):
    path, compute = onnx_model
    lib = ferry.build_onnx(str(path), shape_dict={"data": (2, 4)})
    x = np.random.default_rng(4).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(run_factory(ferry, lib, "tiny", x), compute(x), rtol=1e-5,
                               atol=1e-6)
    lib.export_library(str(tmp_path / "tiny.so"))
    loaded = ferry.load_module(str(tmp_path / "tiny.so"))
    gmod = ferry.graph_executor.GraphModule(loaded["tiny"](ferry.cpu(0)))
    assert gmod.get_input_info() == ({"data": (2, 4)}, {"data": "float32"})


def test_build_onnx_name_and_aot(ferry, onnx_model):
    path, compute = onnx_model
    lib = ferry.build_onnx(str(path), shape_dict={"data": [1, 4]}, executor="aot", name="other")
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(run_factory(ferry, lib, "other", x), compute(x), rtol=1e-5,
                               atol=1e-6)


def test_built_library_runs_remotely(ferry, remote, tmp_path, zoo_libs, reference_output):
    lib = ferry.build_zoo("mlp")
    path = tmp_path / "from_python.so"
    lib.export_library(str(path))
    remote.upload(str(path))
    rlib = remote.load_module("from_python.so")
    gmod = ferry.graph_executor.create(rlib["mlp"], remote.cpu(0))
    x = zoo_input("mlp", seed=35)
    gmod.set_input(data=x)
    gmod.run()
    np.testing.assert_array_equal(gmod.get_output(0).numpy(), reference_output(zoo_libs["mlp"], x))


def test_build_errors(ferry, tmp_path, onnx_model):
    with pytest.raises(LookupError, match="nosuch"):
        ferry.build_zoo("nosuch")
    with pytest.raises(LookupError):
        ferry.build_onnx(str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError):
        ferry.build_zoo("mlp", executor="vm")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError):
        ferry.build_onnx(str(junk))
    path, _ = onnx_model
    with pytest.raises(ValueError):
        ferry.build_onnx(str(path), shape_dict={"data": (2, 5)})
