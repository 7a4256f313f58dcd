"""Remote sessions from Python: a loopback agent, a tracker, CURVE keys (through the tracker
and straight to an agent), remote arrays, files, time_evaluator, and the errors a client
meets (missing files, refused keys, a dead agent)."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ZOO_INPUT_SHAPES, pub, zoo_input


def run_model(ferry, place, lib_path, key, x):
    lib = place.load(lib_path)
    gmod = ferry.graph_executor.GraphModule(lib[key](place.dev))
    gmod.set_input(data=x)
    gmod.run()
    return gmod


# --- every call, locally and remotely -------------------------------------------------------


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_model_runs_everywhere(ferry, place, zoo_libs, reference_output, model):
    """The same calls give the CLI's output bit for bit here, on an agent, through a
    tracker and through a CURVE tracker."""
    x = zoo_input(model, seed=11)
    gmod = run_model(ferry, place, zoo_libs[model], model, x)
    out = gmod.get_output(0)
    assert out.shape == (1, 10)
    np.testing.assert_array_equal(out.numpy(), reference_output(zoo_libs[model], x))
    assert gmod.get_num_inputs() == 1 and gmod.get_num_outputs() == 1
    assert gmod.get_input_info() == ({"data": ZOO_INPUT_SHAPES[model]}, {"data": "float32"})


def test_raw_calls_everywhere(ferry, place, zoo_libs, reference_output):
    """gmod["set_input"](data=x) / ["run"]() / ["get_output"](0), keywords and indices."""
    lib = place.load(zoo_libs["mlp"])
    gmod = lib["mlp"](place.dev)
    x = zoo_input("mlp", seed=12)
    gmod["set_input"](data=x)
    gmod["run"]()
    expected = reference_output(zoo_libs["mlp"], x)
    np.testing.assert_array_equal(gmod["get_output"](0).numpy(), expected)
    gmod["set_input"](0, np.zeros((1, 784), np.float32))
    gmod["set_input"]("data", x)
    gmod["run"]()
    np.testing.assert_array_equal(gmod["get_output"](0).numpy(), expected)


def test_arrays_on_the_device(ferry, place, zoo_libs, reference_output):
    """ferry.nd.array(x, dev) on the place's device, used as an input; outputs copy back."""
    x = zoo_input("mlp", seed=13)
    data = ferry.nd.array(x, place.dev)
    assert data.shape == (1, 784) and data.dtype == "float32"
    np.testing.assert_array_equal(data.numpy(), x)
    if place.session is not None:
        assert data.device.is_remote
        assert "remote" in repr(data.device)
    lib = place.load(zoo_libs["mlp"])
    gmod = ferry.graph_executor.create(lib["mlp"], place.dev)
    gmod.set_input("data", data)
    gmod.run()
    out = gmod.get_output(0)
    host = out.copyto(ferry.cpu(0))
    assert not host.device.is_remote
    np.testing.assert_array_equal(host.numpy(), reference_output(zoo_libs["mlp"], x))
    # copyfrom and empty on the device
    y = ferry.nd.empty((2, 3), "float32", place.dev)
    y.copyfrom(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(y.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    z = ferry.nd.empty((2, 3), "float32", place.dev)
    z.copyfrom(y)
    np.testing.assert_array_equal(z.numpy(), y.numpy())


def test_load_params_everywhere(ferry, place, zoo_libs, reference_output):
    path = zoo_libs["mlp_noparams"]
    params = Path(str(path) + ".params").read_bytes()
    lib = place.load(path)
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](place.dev))
    gmod.load_params(params)
    x = zoo_input("mlp", seed=14)
    gmod.set_input(data=x)
    gmod.run()
    np.testing.assert_array_equal(gmod.get_output(0).numpy(), reference_output(zoo_libs["mlp"], x))


def test_time_evaluator_everywhere(ferry, place, zoo_libs):
    gmod = run_model(ferry, place, zoo_libs["mlp"], "mlp", zoo_input("mlp"))
    timer = gmod.module.time_evaluator("run", place.dev, number=2, repeat=3, min_repeat_ms=1)
    result = timer()
    assert len(result.results) == 3
    assert all(r > 0 for r in result.results)
    assert result.min <= result.median <= result.max
    assert result.mean == pytest.approx(np.mean(result.results))
    assert result.std == pytest.approx(np.std(result.results), abs=1e-12)


def test_errors_everywhere(ferry, place, zoo_libs):
    """Wrong input name, shape and dtype give the same exceptions locally and remotely."""
    lib = place.load(zoo_libs["mlp"])
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](place.dev))
    with pytest.raises(LookupError, match="nosuch"):
        gmod.set_input(nosuch=zoo_input("mlp"))
    with pytest.raises(ValueError, match="data"):
        gmod.set_input(data=np.zeros((2, 784), np.float32))
    with pytest.raises(ValueError, match="data"):
        gmod.set_input(data=np.zeros((1, 784), np.int32))
    with pytest.raises(LookupError, match="resnet18"):
        lib["resnet18"]


# --- sessions and files --------------------------------------------------------------------


def test_session_files(rpc, remote, zoo_libs, tmp_path):
    remote.upload(str(zoo_libs["mlp"]))
    assert "mlp.so" in _names(remote.listdir())
    assert remote.download("mlp.so") == zoo_libs["mlp"].read_bytes()
    note = tmp_path / "note.txt"
    note.write_bytes(b"hello ferry")
    remote.upload(str(note), "renamed.txt")
    assert remote.download("renamed.txt") == b"hello ferry"
    remote.remove("renamed.txt")
    assert "renamed.txt" not in _names(remote.listdir())
    assert "session" in repr(remote).lower() or "Remote" in repr(remote)


def _names(listing):
    """File names of a listdir() result (names, or entries with a name)."""
    return [getattr(e, "name", e) for e in listing]


def test_session_devices(ferry, remote):
    dev = remote.cpu(0)
    assert "remote" in repr(dev)
    assert "cuda" in repr(remote.cuda(0))


def test_connect_endpoint_string(rpc, agent):
    session = rpc.connect(agent.endpoint, timeout=30)
    try:
        assert isinstance(session.listdir(), list)
    finally:
        session.close()


def test_remote_missing_files(rpc, remote, tmp_path):
    with pytest.raises(LookupError):
        remote.upload(str(tmp_path / "nosuch.so"))
    with pytest.raises(LookupError):
        remote.load_module("never-uploaded.so")
    with pytest.raises(LookupError):
        remote.download("never-uploaded.bin")


def test_closed_session(ferry, rpc, agent, zoo_libs):
    session = rpc.connect(agent.host, agent.port, timeout=30)
    session.close()
    with pytest.raises((ConnectionError, ferry.FailedPreconditionError)):
        session.listdir()


# --- tracker ---------------------------------------------------------------------------------


def test_tracker_status_and_request(rpc, tracker, zoo_libs):
    t = rpc.connect_tracker(tracker.host, tracker.port)
    assert "cpu" in str(t.status())
    session = t.request("cpu", priority=1, session_timeout=30)
    try:
        session.upload(str(zoo_libs["mlp"]))
        assert "mlp.so" in _names(session.listdir())
    finally:
        session.close()
    # The lease is released: a second request is granted at once.
    again = t.request("cpu", session_timeout=30)
    again.close()


def test_tracker_unknown_key_times_out(rpc, tracker):
    t = rpc.connect_tracker(tracker.host, tracker.port)
    started = time.monotonic()
    with pytest.raises((TimeoutError, LookupError)):
        t.request("no-such-key", session_timeout=2)
    assert time.monotonic() - started < 30


# --- CURVE keys ------------------------------------------------------------------------------


def test_curve_through_tracker(ferry, rpc, curve_tracker, zoo_libs, reference_output):
    t = rpc.connect_tracker(curve_tracker.host, curve_tracker.port,
                            identity=str(curve_tracker.identity),
                            tracker_key=str(curve_tracker.tracker_key))
    remote = t.request(curve_tracker.key, session_timeout=30)
    try:
        remote.upload(str(zoo_libs["cnn"]))
        lib = remote.load_module("cnn.so")
        gmod = ferry.graph_executor.GraphModule(lib["cnn"](remote.cpu(0)))
        x = zoo_input("cnn", seed=21)
        gmod.set_input(data=ferry.nd.array(x, remote.cpu(0)))
        gmod.run()
        np.testing.assert_array_equal(gmod.get_output(0).numpy(),
                                      reference_output(zoo_libs["cnn"], x))
    finally:
        remote.close()


def test_curve_tracker_key_as_z85_text(rpc, curve_tracker):
    z85 = Path(curve_tracker.tracker_key).read_text().split()[0]
    t = rpc.connect_tracker(curve_tracker.host, curve_tracker.port,
                            identity=str(curve_tracker.identity), tracker_key=z85)
    assert curve_tracker.key in str(t.status())


def test_curve_tracker_refuses_unknown_key(rpc, curve_tracker, keys):
    started = time.monotonic()
    with pytest.raises(PermissionError):
        t = rpc.connect_tracker(curve_tracker.host, curve_tracker.port,
                                identity=str(keys["stranger"]),
                                tracker_key=str(curve_tracker.tracker_key))
        t.status()
    assert time.monotonic() - started < 20


def test_curve_tracker_without_identity_refused(rpc, curve_tracker):
    with pytest.raises((PermissionError, ConnectionError, TimeoutError)):
        t = rpc.connect_tracker(curve_tracker.host, curve_tracker.port)
        t.status()


def test_curve_direct_agent(ferry, rpc, curve_agent, keys, zoo_libs, reference_output):
    remote = rpc.connect(curve_agent.host, curve_agent.port, identity=str(keys["client"]),
                         server_key=str(pub(keys["agent"])), timeout=30)
    try:
        remote.upload(str(zoo_libs["mlp"]))
        lib = remote.load_module("mlp.so")
        gmod = ferry.graph_executor.create(lib["mlp"], remote.cpu(0))
        x = zoo_input("mlp", seed=22)
        gmod.set_input(data=x)
        gmod.run()
        np.testing.assert_array_equal(gmod.get_output(0).numpy(),
                                      reference_output(zoo_libs["mlp"], x))
    finally:
        remote.close()


def test_curve_agent_refuses_unknown_key(rpc, curve_agent, keys):
    started = time.monotonic()
    with pytest.raises(PermissionError):
        rpc.connect(curve_agent.host, curve_agent.port, identity=str(keys["stranger"]),
                    server_key=str(pub(keys["agent"])), timeout=15)
    assert time.monotonic() - started < 20


def test_curve_agent_wrong_server_key(rpc, curve_agent, keys):
    with pytest.raises(PermissionError):
        rpc.connect(curve_agent.host, curve_agent.port, identity=str(keys["client"]),
                    server_key=str(pub(keys["tracker"])), timeout=15)


def test_curve_identity_missing_file(rpc, curve_agent, keys, tmp_path):
    with pytest.raises((LookupError, FileNotFoundError, ValueError)):
        rpc.connect(curve_agent.host, curve_agent.port, identity=str(tmp_path / "nokey"),
                    server_key=str(pub(keys["agent"])), timeout=15)


# --- a dead agent ----------------------------------------------------------------------------


def test_dead_agent(ferry, rpc, fresh_agent, zoo_libs):
    """Killing the agent mid-session (its workers die with it) fails the next call with a
    ConnectionError well within the call deadline, not a hang."""
    remote = rpc.connect(fresh_agent.host, fresh_agent.port, timeout=10)
    remote.upload(str(zoo_libs["mlp"]))
    lib = remote.load_module("mlp.so")
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](remote.cpu(0)))
    gmod.set_input(data=zoo_input("mlp"))
    gmod.run()
    fresh_agent.kill()
    time.sleep(0.3)  # the worker follows its agent (PR_SET_PDEATHSIG)
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        gmod.run()
        gmod.get_output(0).numpy()
    assert time.monotonic() - started < 15


def test_connect_to_nothing(rpc, fresh_agent):
    host, port = fresh_agent.host, fresh_agent.port
    fresh_agent.kill()
    started = time.monotonic()
    with pytest.raises((ConnectionError, TimeoutError)):
        rpc.connect(host, port, timeout=3)
    assert time.monotonic() - started < 15


# --- behaviour: the GIL and Ctrl-C -----------------------------------------------------------


def test_gil_released_during_remote_calls(ferry, remote, zoo_libs):
    """While a remote measurement runs on another thread, this thread keeps running."""
    import threading

    remote.upload(str(zoo_libs["cnn"]))
    lib = remote.load_module("cnn.so")
    gmod = ferry.graph_executor.GraphModule(lib["cnn"](remote.cpu(0)))
    gmod.set_input(data=zoo_input("cnn"))
    timer = gmod.module.time_evaluator("run", remote.cpu(0), number=1, repeat=1,
                                       min_repeat_ms=600)
    thread = threading.Thread(target=timer)
    ticks = 0
    thread.start()
    while thread.is_alive():
        ticks += 1
        time.sleep(0.001)
    thread.join(timeout=30)
    assert ticks > 50


def test_gil_released_during_local_runs(ferry, zoo_libs):
    import threading

    lib = ferry.load_module(str(zoo_libs["cnn"]))
    gmod = ferry.graph_executor.GraphModule(lib["cnn"](ferry.cpu(0)))
    gmod.set_input(data=zoo_input("cnn"))
    timer = gmod.module.time_evaluator("run", ferry.cpu(0), number=1, repeat=1,
                                       min_repeat_ms=600)
    thread = threading.Thread(target=timer)
    ticks = 0
    thread.start()
    while thread.is_alive():
        ticks += 1
        time.sleep(0.001)
    thread.join(timeout=30)
    assert ticks > 50


def test_ctrl_c_interrupts_tracker_wait(tracker):
    """SIGINT during tracker.request (no agent of that key) raises KeyboardInterrupt at once."""
    script = textwrap.dedent("""
        import sys, time, ferry
        t = ferry.rpc.connect_tracker(sys.argv[1], int(sys.argv[2]))
        print("waiting", flush=True)
        started = time.monotonic()
        try:
            t.request("nobody-serves-this", session_timeout=60)
        except KeyboardInterrupt:
            print("interrupted after %.1f s" % (time.monotonic() - started), flush=True)
            sys.exit(0)
        sys.exit(3)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, tracker.host, str(tracker.port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ))
    try:
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, out
    assert "interrupted" in out
