"""The smaller parts of ferry.rpc and the build functions: endpoints, file listings with sizes,
sessions as context managers, devices of a session, global functions, the tracker's status and
tags, argument errors; FactoryModule's keys, key= and bind=."""
import time

import numpy as np
import pytest

from conftest import zoo_input


def test_endpoint(rpc):
    assert rpc.endpoint("127.0.0.1", 9190) == "tcp://127.0.0.1:9190"
    assert rpc.endpoint("tcp://10.0.0.2:9") == "tcp://10.0.0.2:9"
    assert rpc.endpoint("h:7") == "tcp://h:7"
    assert rpc.endpoint("::1", 5) == "tcp://[::1]:5"
    with pytest.raises(ValueError):
        rpc.endpoint("host")
    with pytest.raises(ValueError):
        rpc.endpoint("host", 0)
    with pytest.raises(ValueError):
        rpc.endpoint("tcp://h:1", 2)


def test_session_as_context_manager(ferry, rpc, agent, zoo_libs):
    with rpc.connect(agent.host, agent.port, timeout=30) as session:
        assert not session.closed
        assert session.endpoint == agent.endpoint
        assert session.session_id and session.session_id in repr(session)
        session.upload(zoo_libs["mlp"])  # a pathlib.Path
        assert session.list_files() == {"mlp.so": zoo_libs["mlp"].stat().st_size}
        session.timeout = 5
        assert session.timeout == pytest.approx(5)
    assert session.closed and "closed" in repr(session)
    session.close()  # twice is harmless
    with pytest.raises(ferry.FailedPreconditionError):
        session.upload(str(zoo_libs["mlp"]))


def test_session_devices_and_functions(ferry, remote):
    cpu = remote.cpu(0)
    assert cpu.is_remote and cpu.exist and cpu.device_id == 0
    assert cpu.device_type % 128 == 1  # TVM's remote mask on the DLPack type
    assert repr(cpu) == "remote[cpu(0)]"
    assert cpu == remote.cpu(0) and cpu != remote.cpu(1)
    assert cpu == cpu.device and cpu.device.is_remote
    assert remote.device("cpu") == cpu
    assert remote.device("cuda", 1) == remote.cuda(1)
    assert isinstance(cpu.device_name, str)
    echo = remote.get_function("ferry.echo")
    assert echo(3, "x") in (3, [3, "x"], (3, "x"))
    with pytest.raises(LookupError):
        remote.get_function("no.such.function")


def test_remote_arrays_through_session_device(ferry, remote):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = ferry.nd.array(x, remote.cpu(0))
    assert a.device.is_remote
    b = a.copyto(ferry.cpu(0))
    np.testing.assert_array_equal(b.numpy(), x)
    c = b.copyto(remote.cpu(0))
    assert c.device.is_remote
    np.testing.assert_array_equal(c.numpy(), x)


def test_connect_argument_errors(rpc, agent, keys, tmp_path):
    with pytest.raises(ValueError):
        rpc.connect(agent.host, agent.port, timeout=0)
    with pytest.raises(ValueError, match="identity"):
        rpc.connect(agent.host, agent.port, server_key=str(keys["agent"]) + ".pub")
    with pytest.raises(ValueError, match="server_key"):
        rpc.connect(agent.host, agent.port, identity=str(keys["client"]))
    with pytest.raises(ValueError):
        rpc.connect("tcp://127.0.0.1:1", 5)


def test_tracker_status_layout(rpc, tracker):
    t = rpc.connect_tracker(tracker.endpoint, timeout=10)
    assert tracker.endpoint in repr(t)
    status = t.status()
    assert set(status) == {"agents", "queue"}
    (agent,) = [a for a in status["agents"] if a["key"] == "cpu"]
    assert agent["tags"] == {"arch": "test"}
    assert agent["devices"] and agent["devices"][0]["type"] == "cpu"
    assert "cpu" in t.text_summary()


def test_tracker_tags(rpc, tracker):
    t = rpc.connect_tracker(tracker.host, tracker.port)
    with t.request("cpu", tags={"arch": "test"}, session_timeout=20) as session:
        assert session.listdir() is not None
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        t.request("cpu", tags={"arch": "other"}, session_timeout=1)
    assert time.monotonic() - started < 10
    # The refused request left nothing queued.
    assert t.status()["queue"] == []


def test_tracker_unreachable(rpc, fresh_agent):
    host, port = fresh_agent.host, fresh_agent.port
    fresh_agent.kill()
    t = rpc.connect_tracker(host, port, timeout=2)
    started = time.monotonic()
    with pytest.raises((ConnectionError, TimeoutError)):
        t.status()
    assert time.monotonic() - started < 10


def test_factory_module_properties(ferry, tmp_path):
    lib = ferry.build_zoo("mlp", key="m2", seed=7)
    assert lib.keys == ["m2"] and lib.executor == "graph"
    assert isinstance(lib, ferry.Module) and "m2" in repr(lib)
    other = ferry.build_zoo("mlp", seed=8)
    x = zoo_input("mlp", seed=1)

    def run(l, key):
        g = ferry.graph_executor.create(l[key], ferry.cpu(0))
        g.set_input(data=x)
        g.run()
        return g.get_output(0).numpy()

    assert not np.array_equal(run(lib, "m2"), run(other, "mlp"))
    with pytest.raises(ValueError):
        ferry.build_zoo("mlp", name="a", key="b")
    with pytest.raises((LookupError, PermissionError, ConnectionError)):
        lib.export_library(str(tmp_path / "no" / "such" / "dir" / "m.so"))
    assert "mlp" in ferry._ferry.zoo_models()


def test_build_onnx_bind(ferry, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["data", "bias"], ["out"])], "addbias",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("bias", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2])])
    path = tmp_path / "addbias.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    lib = ferry.build_onnx(path, bind={"bias": np.array([10, 20], np.float32)})
    gmod = ferry.graph_executor.create(lib["addbias"], ferry.cpu(0))
    assert gmod.get_num_inputs() == 1
    gmod.set_input(data=np.array([1, 2], np.float32))
    gmod.run()
    np.testing.assert_array_equal(gmod.get_output(0).numpy(), [11, 22])
