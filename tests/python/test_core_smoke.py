"""Smoke tests of the core bindings (devices, arrays, DLPack, modules, executors, timing).

The full suite is in the other files of tests/python; these check the core engineer's parts
in isolation. A model library is built with `ferry build --zoo mlp` (FERRY_BIN or build/bin).
"""
import os
import subprocess

import numpy as np
import pytest

import ferry
from ferry import graph_executor


def _ferry_bin():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("FERRY_BIN", os.path.join(here, "..", "..", "build", "bin"))


@pytest.fixture(scope="module")
def mlp_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("lib") / "mlp.so")
    subprocess.run([os.path.join(_ferry_bin(), "ferry"), "build", "--zoo", "mlp", "-o", path],
                   check=True, timeout=120, capture_output=True)
    return path


def _address(np_array):
    return np_array.__array_interface__["data"][0]


def test_devices_and_dtypes():
    assert repr(ferry.cpu(0)) == "cpu(0)"
    assert ferry.cpu(0) == ferry.device("cpu:0")
    assert str(ferry.DataType("float32")) == "float32"
    assert ferry.DataType(np.int64) == "int64"
    with pytest.raises(ValueError) as e:
        ferry.device("tpu")
    assert e.value.status_code == "INVALID_ARGUMENT"


def test_numpy_round_trip_copies():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = ferry.nd.array(x)
    assert a.shape == (3, 4) and a.dtype == "float32" and a.device == ferry.cpu(0)
    assert a.data_ptr != _address(x)
    np.testing.assert_array_equal(a.numpy(), x)
    b = ferry.nd.empty((3, 4), "float32").copyfrom(x * 2)
    np.testing.assert_array_equal(b.copyto(ferry.cpu(0)).numpy(), x * 2)
    with pytest.raises(ValueError):
        b.copyfrom(np.zeros((2, 2)))


@pytest.mark.parametrize("x", [np.array(3.5), np.zeros((0, 3), np.float32),
                               np.array([True, False]), np.ones(3, np.float16),
                               np.arange(6.0).reshape(2, 3).T])
def test_array_shapes_and_dtypes(x):
    a = ferry.nd.array(x)
    assert a.shape == x.shape and a.dtype == str(x.dtype)
    np.testing.assert_array_equal(a.numpy(), x)


def test_dlpack_numpy_both_ways_without_copy():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    a = ferry.nd.from_dlpack(x)
    assert a.data_ptr == _address(x)
    y = np.from_dlpack(a)
    assert _address(y) == _address(x)
    del a
    x[0, 0] = 42
    assert y[0, 0] == 42


def test_dlpack_refuses_non_compact():
    x = np.arange(6, dtype=np.float32).reshape(2, 3).T
    with pytest.raises(ValueError, match="strides"):
        ferry.nd.from_dlpack(x)


def test_dlpack_torch_in_numpy_out():
    torch = pytest.importorskip("torch")
    t = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    a = ferry.nd.from_dlpack(t)
    assert a.data_ptr == t.data_ptr()
    y = np.from_dlpack(a)
    assert _address(y) == t.data_ptr()
    back = torch.utils.dlpack.from_dlpack(a)
    assert back.data_ptr() == t.data_ptr()


def test_module_executor_and_errors(mlp_path):
    lib = ferry.load_module(mlp_path)
    dev = ferry.cpu(0)
    gmod = lib["mlp"](dev)
    x = np.random.rand(1, 784).astype("float32")
    gmod["set_input"](data=x)
    gmod["run"]()
    y = gmod["get_output"](0).numpy()
    g = graph_executor.create(lib["mlp"], dev)
    assert g.get_input_info() == ({"data": (1, 784)}, {"data": "float32"})
    g.set_input("data", ferry.nd.array(x))
    g.run()
    np.testing.assert_array_equal(g.get_output(0).numpy(), y)
    with pytest.raises(LookupError):
        g.set_input(nope=x)
    with pytest.raises(ValueError):
        g.set_input(data=x.astype("float64"))
    with pytest.raises(ferry.NotFoundError):
        ferry.load_module(mlp_path + ".missing")


def test_time_evaluator(mlp_path):
    gmod = ferry.load_module(mlp_path)["mlp"](ferry.cpu(0))
    result = gmod.time_evaluator("run", ferry.cpu(0), number=2, repeat=3)()
    assert len(result.results) == 3
    assert result.min <= result.median <= result.max and result.mean > 0 and result.std >= 0


def test_gil_released_and_ctrl_c_stops_a_long_measurement(mlp_path):
    """A measurement leaves other Python threads running, and SIGINT ends a long one early."""
    import sys
    import textwrap

    script = textwrap.dedent("""
        import os, signal, sys, threading, time
        import ferry
        gmod = ferry.load_module(sys.argv[1])["mlp"](ferry.cpu(0))
        count, done = [0], threading.Event()
        def spin():
            while not done.is_set():
                count[0] += 1
        t = threading.Thread(target=spin); t.start()
        gmod.time_evaluator("run", ferry.cpu(0), min_repeat_ms=300)()
        done.set(); t.join()
        assert count[0] > 1000, count[0]
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        start = time.time()
        try:
            gmod.time_evaluator("run", ferry.cpu(0), repeat=1000, min_repeat_ms=100)()
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted after %.1f s" % (time.time() - start))
    """)
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", script, mlp_path], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert "interrupted after" in out.stdout, out.stdout
    assert float(out.stdout.split()[2]) < 5
