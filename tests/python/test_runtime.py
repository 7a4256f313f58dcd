"""The local runtime from Python: devices, arrays, numpy and DLPack, libraries, executors,
the graph_executor wrapper, time_evaluator, and errors by status code."""
import gc

import numpy as np
import pytest

from conftest import zoo_input


def addr(np_array):
    return np_array.__array_interface__["data"][0]


# --- devices and dtypes -------------------------------------------------------------------


def test_devices(ferry):
    dev = ferry.cpu(0)
    assert dev == ferry.cpu()
    assert dev != ferry.cuda(0)
    assert dev.device_type == 1 and dev.device_id == 0
    assert not dev.is_remote
    assert "cpu" in repr(dev)
    assert ferry.device("cpu(0)") == dev
    assert ferry.cuda(1).device_id == 1
    with pytest.raises(ValueError):
        ferry.device("tpu:9")


def test_datatype(ferry):
    assert str(ferry.DataType("float32")) == "float32"
    assert ferry.DataType(np.dtype("int64")) == "int64"
    assert "float32" in repr(ferry.DataType("float32"))


# --- arrays and numpy ---------------------------------------------------------------------


def test_array_numpy_round_trip(ferry):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    a = ferry.nd.array(x, ferry.cpu(0))
    assert a.shape == (2, 3, 4)
    assert a.dtype == "float32"
    assert a.device == ferry.cpu(0)
    y = a.numpy()
    np.testing.assert_array_equal(y, x)
    # nd.array and numpy() copy: three different buffers.
    assert len({addr(x), a.data_ptr, addr(y)}) == 3
    x[0, 0, 0] = 100
    assert a.numpy()[0, 0, 0] == 0
    assert "NDArray" in repr(a) and "float32" in repr(a)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int32", "int64", "uint8"])
def test_array_dtypes(ferry, dtype):
    x = (np.arange(12) % 7).astype(dtype).reshape(3, 4)
    a = ferry.nd.array(x)
    assert a.dtype == dtype
    np.testing.assert_array_equal(a.numpy(), x)


def test_array_non_contiguous_input(ferry):
    x = np.arange(20, dtype=np.float32).reshape(4, 5)[:, 1:4]
    np.testing.assert_array_equal(ferry.nd.array(x).numpy(), x)


def test_empty_copyfrom_copyto(ferry):
    a = ferry.nd.empty((2, 3), "float32", ferry.cpu(0))
    assert a.shape == (2, 3) and a.dtype == "float32"
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    assert a.copyfrom(x) is not None
    np.testing.assert_array_equal(a.numpy(), x)
    b = a.copyto(ferry.cpu(0))
    assert b.data_ptr != a.data_ptr
    np.testing.assert_array_equal(b.numpy(), x)
    c = ferry.nd.empty((2, 3), "float32")
    a.copyto(c)
    np.testing.assert_array_equal(c.numpy(), x)
    d = ferry.nd.empty((2, 3), "float32")
    d.copyfrom(a)
    np.testing.assert_array_equal(d.numpy(), x)


def test_copyfrom_wrong_shape(ferry):
    a = ferry.nd.empty((2, 3), "float32")
    with pytest.raises(ValueError, match=r"shape"):
        a.copyfrom(np.zeros((3, 2), np.float32))


# --- DLPack -------------------------------------------------------------------------------


def test_dlpack_device(ferry):
    a = ferry.nd.array(np.zeros(3, np.float32))
    assert tuple(a.__dlpack_device__()) == (1, 0)


def test_dlpack_to_numpy_zero_copy(ferry):
    a = ferry.nd.array(np.arange(6, dtype=np.float32).reshape(2, 3))
    view = np.from_dlpack(a)
    assert addr(view) == a.data_ptr
    np.testing.assert_array_equal(view, np.arange(6, dtype=np.float32).reshape(2, 3))
    # The view keeps the memory alive after the NDArray goes.
    del a
    gc.collect()
    assert view.sum() == 15


def test_dlpack_from_numpy_zero_copy(ferry):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = ferry.nd.from_dlpack(x)
    assert a.data_ptr == addr(x)
    assert a.shape == (2, 3) and a.dtype == "float32"
    x[1, 2] = 42  # shared memory: the NDArray sees the write
    assert a.numpy()[1, 2] == 42
    del x
    gc.collect()
    assert a.numpy()[1, 2] == 42


def test_dlpack_torch_both_ways(ferry):
    torch = pytest.importorskip("torch")
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    a = ferry.nd.from_dlpack(t)
    assert a.data_ptr == t.data_ptr()
    assert a.shape == (3, 4) and a.dtype == "float32"
    t2 = torch.utils.dlpack.from_dlpack(a)
    assert t2.data_ptr() == t.data_ptr()
    t[0, 0] = -1
    assert a.numpy()[0, 0] == -1 and t2[0, 0] == -1
    # The NDArray keeps the torch storage alive.
    del t, t2
    gc.collect()
    assert a.numpy()[2, 3] == 11


def test_dlpack_ferry_to_torch(ferry):
    torch = pytest.importorskip("torch")
    a = ferry.nd.array(np.arange(4, dtype=np.int64))
    t = torch.utils.dlpack.from_dlpack(a)
    assert t.data_ptr() == a.data_ptr
    assert t.dtype == torch.int64 and t.tolist() == [0, 1, 2, 3]


def test_dlpack_non_contiguous_refused(ferry):
    torch = pytest.importorskip("torch")
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    with pytest.raises(ValueError, match="contiguous"):
        ferry.nd.from_dlpack(t)
    a = ferry.nd.from_dlpack(t.contiguous())
    np.testing.assert_array_equal(a.numpy(), t.numpy())


# --- libraries and executors --------------------------------------------------------------


def test_load_module(ferry, zoo_libs):
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    assert isinstance(lib, ferry.Module)
    assert "mlp" in lib
    assert "Module" in repr(lib)
    assert isinstance(lib["mlp"], ferry.PackedFunc)
    assert "mlp" in repr(lib["mlp"])


def test_raw_executor_calls(ferry, zoo_libs, reference_output):
    """TVM's gmod["set_input"] / gmod["run"] / gmod["get_output"] on the raw executor."""
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    gmod = lib["mlp"](ferry.cpu(0))
    x = zoo_input("mlp")
    expected = reference_output(zoo_libs["mlp"], x)
    gmod["set_input"](data=x)  # keywords
    gmod["run"]()
    np.testing.assert_array_equal(gmod["get_output"](0).numpy(), expected)
    gmod["set_input"]("data", ferry.nd.array(zoo_input("mlp", seed=5)))  # name, NDArray
    gmod["set_input"](0, x)  # index, numpy
    gmod["run"]()
    np.testing.assert_array_equal(gmod["get_output"](0).numpy(), expected)
    assert gmod["get_num_inputs"]() == 1
    assert gmod["get_num_outputs"]() == 1


def test_graph_module_wrapper(ferry, zoo_libs, reference_output):
    lib = ferry.load_module(str(zoo_libs["cnn"]))
    gmod = ferry.graph_executor.GraphModule(lib["cnn"](ferry.cpu(0)))
    x = zoo_input("cnn")
    gmod.set_input("data", x)
    gmod.run()
    out = gmod.get_output(0)
    assert out.shape == (1, 10) and out.dtype == "float32"
    np.testing.assert_array_equal(out.numpy(), reference_output(zoo_libs["cnn"], x))
    assert gmod.get_num_inputs() == 1
    assert gmod.get_num_outputs() == 1
    shapes, dtypes = gmod.get_input_info()
    assert shapes == {"data": (1, 3, 32, 32)} and dtypes == {"data": "float32"}
    np.testing.assert_array_equal(gmod.get_input(0).numpy(), x)
    into = ferry.nd.empty((1, 10), "float32")
    assert gmod.get_output(0, into) is into
    np.testing.assert_array_equal(into.numpy(), out.numpy())
    assert "GraphModule" in repr(gmod)
    # gmod["..."] reaches the module's functions.
    gmod["run"]()


def test_create(ferry, zoo_libs, reference_output):
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    gmod = ferry.graph_executor.create(lib["mlp"], ferry.cpu(0))
    x = zoo_input("mlp", seed=3)
    gmod.set_input(data=x)
    gmod.run()
    np.testing.assert_array_equal(gmod.get_output(0).numpy(),
                                  reference_output(zoo_libs["mlp"], x))


def test_aot_executor(ferry, zoo_libs, reference_output):
    lib = ferry.load_module(str(zoo_libs["cnn_aot"]))
    gmod = ferry.graph_executor.GraphModule(lib["cnn"](ferry.cpu(0)))
    x = zoo_input("cnn", seed=2)
    gmod.set_input(data=x)
    gmod.run()
    np.testing.assert_array_equal(gmod.get_output(0).numpy(),
                                  reference_output(zoo_libs["cnn_aot"], x))


def test_two_models_one_library(ferry, zoo_libs):
    lib = ferry.load_module(str(zoo_libs["both"]))
    for key in ("mlp", "cnn"):
        gmod = ferry.graph_executor.create(lib[key], ferry.cpu(0))
        gmod.set_input(data=zoo_input(key))
        gmod.run()
        assert gmod.get_output(0).shape == (1, 10)


def test_load_params(ferry, zoo_libs, reference_output):
    """A library exported without parameters runs after load_params(bytes of LIB.params)."""
    path = zoo_libs["mlp_noparams"]
    params = open(str(path) + ".params", "rb").read()
    lib = ferry.load_module(str(path))
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](ferry.cpu(0)))
    gmod.load_params(params)
    x = zoo_input("mlp")
    gmod.set_input(data=x)
    gmod.run()
    np.testing.assert_array_equal(gmod.get_output(0).numpy(), reference_output(zoo_libs["mlp"], x))
    # The raw function takes bytes and bytearray too.
    gmod2 = lib["mlp"](ferry.cpu(0))
    gmod2["load_params"](bytearray(params))


def test_torch_in_numpy_out_without_copies(ferry, zoo_libs, reference_output):
    """A torch tensor goes in through DLPack and the output comes out as a numpy view."""
    torch = pytest.importorskip("torch")
    x = zoo_input("mlp", seed=7)
    t = torch.from_numpy(x.copy())
    data = ferry.nd.from_dlpack(t)
    assert data.data_ptr == t.data_ptr()
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](ferry.cpu(0)))
    gmod.set_input(data=data)
    gmod.run()
    out = gmod.get_output(0)
    y = np.from_dlpack(out)
    assert addr(y) == out.data_ptr
    np.testing.assert_array_equal(y, reference_output(zoo_libs["mlp"], x))
    # A torch tensor passed straight to set_input works the same.
    gmod.set_input("data", t)
    gmod.run()
    np.testing.assert_array_equal(np.from_dlpack(gmod.get_output(0)), y)


def test_time_evaluator(ferry, zoo_libs):
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](ferry.cpu(0)))
    gmod.set_input(data=zoo_input("mlp"))
    timer = gmod.module.time_evaluator("run", ferry.cpu(0), number=2, repeat=3, min_repeat_ms=1)
    result = timer()
    assert isinstance(result, ferry.BenchmarkResult)
    assert len(result.results) == 3
    assert all(r > 0 for r in result.results)
    assert result.min <= result.median <= result.max
    assert result.min <= result.mean <= result.max
    assert result.mean == pytest.approx(np.mean(result.results))
    assert result.std == pytest.approx(np.std(result.results), abs=1e-12)
    assert "mean" in repr(result)


# --- errors ---------------------------------------------------------------------------------


@pytest.fixture
def mlp_gmod(ferry, zoo_libs):
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    return ferry.graph_executor.GraphModule(lib["mlp"](ferry.cpu(0)))


def test_error_wrong_input_name(ferry, mlp_gmod):
    with pytest.raises(LookupError, match="nosuch") as info:
        mlp_gmod.set_input(nosuch=zoo_input("mlp"))
    assert isinstance(info.value, ferry.NotFoundError)
    assert info.value.status_code == "NOT_FOUND"
    with pytest.raises(LookupError):
        mlp_gmod["set_input"]("nosuch", zoo_input("mlp"))


def test_error_wrong_input_index(mlp_gmod):
    with pytest.raises(ValueError):
        mlp_gmod.set_input(3, zoo_input("mlp"))


def test_error_wrong_shape(ferry, mlp_gmod):
    with pytest.raises(ValueError, match="data") as info:
        mlp_gmod.set_input(data=np.zeros((1, 783), np.float32))
    assert info.value.status_code == "INVALID_ARGUMENT"


def test_error_wrong_dtype(mlp_gmod):
    with pytest.raises(ValueError, match="data"):
        mlp_gmod.set_input(data=np.zeros((1, 784), np.float64))


def test_error_wrong_output_index(mlp_gmod):
    mlp_gmod.set_input(data=zoo_input("mlp"))
    mlp_gmod.run()
    with pytest.raises(ValueError):
        mlp_gmod.get_output(5)


def test_error_missing_file(ferry, tmp_path):
    with pytest.raises(LookupError, match="nosuch.so") as info:
        ferry.load_module(str(tmp_path / "nosuch.so"))
    assert isinstance(info.value, ferry.NotFoundError)


def test_error_not_a_library(ferry, tmp_path):
    path = tmp_path / "junk.so"
    path.write_bytes(b"this is not an ELF file")
    with pytest.raises(ValueError):
        ferry.load_module(str(path))


def test_error_missing_model_key(ferry, zoo_libs):
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    with pytest.raises(LookupError, match="resnet"):
        lib["resnet18"]


def test_error_bad_argument_type(ferry, zoo_libs):
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    with pytest.raises(TypeError):
        lib["mlp"](object())


def test_error_keywords_on_plain_function(ferry, zoo_libs):
    lib = ferry.load_module(str(zoo_libs["mlp"]))
    gmod = lib["mlp"](ferry.cpu(0))
    with pytest.raises(TypeError):
        gmod["run"](fast=True)
