"""Fixtures of the Python package's tests: model libraries built with `ferry build`, and
ferry-agent / ferry-tracker processes on ephemeral loopback ports (plaintext and CURVE).

Run by ctest (tests/python.cmake) with PYTHONPATH=<build>/python and FERRY_BIN=<build>/bin;
run by hand from the source tree, it falls back to build/python and build/bin. HOME points to
a temporary directory for the whole run, so an identity in ~/.config/ferry never changes
what the tests see. Every wait is bounded; every process started here is stopped here.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SOURCE_DIR = Path(__file__).resolve().parents[2]
FERRY_BIN = Path(os.environ.get("FERRY_BIN", SOURCE_DIR / "build" / "bin"))
PYTHON_DIR = Path(os.environ.get("FERRY_PYTHON_DIR", FERRY_BIN.parent / "python"))
if "ferry" not in sys.modules and str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))

# Seconds any single wait may last (process start, registration, a subprocess).
START_TIMEOUT = 20
COMMAND_TIMEOUT = 120

# Input shapes of the zoo models (compiler/zoo.h).
ZOO_INPUT_SHAPES = {"mlp": (1, 784), "cnn": (1, 3, 32, 32)}


def ferry_exe(name):
    path = FERRY_BIN / name
    if not path.exists():
        pytest.fail("%s not found (set FERRY_BIN to the build's bin directory)" % path)
    return str(path)


def run_ferry(*args, env=None, timeout=COMMAND_TIMEOUT):
    """Runs `ferry ARGS...`; fails the test with its output when it exits non-zero."""
    result = subprocess.run([ferry_exe("ferry"), *map(str, args)], capture_output=True,
                            text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        pytest.fail("ferry %s failed (%d):\n%s%s" % (" ".join(map(str, args)), result.returncode,
                                                    result.stdout, result.stderr))
    return result.stdout


def split_endpoint(endpoint):
    """("127.0.0.1", 40123) for "tcp://127.0.0.1:40123"."""
    assert endpoint.startswith("tcp://"), endpoint
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    return host, int(port)


class Process:
    """A ferry-agent or ferry-tracker child process that writes its bound endpoint to a file.

    `start()` waits up to START_TIMEOUT seconds for the endpoint; a process that exits first
    or stays silent fails the test with its log. `stop()` sends SIGTERM, then SIGKILL after 5 s.
    """

    def __init__(self, name, args, directory):
        self.name = name
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.endpoint_file = self.directory / (name + ".endpoint")
        self.log_path = self.directory / (name + ".log")
        self.args = [*args, "--endpoint-file", str(self.endpoint_file)]
        self.popen = None
        self.endpoint = None

    @property
    def host(self):
        return split_endpoint(self.endpoint)[0]

    @property
    def port(self):
        return split_endpoint(self.endpoint)[1]

    @property
    def pid(self):
        return self.popen.pid

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self):
        if self.endpoint_file.exists():
            self.endpoint_file.unlink()
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                pytest.fail("%s exited (%s) before listening:\n%s" %
                            (self.name, self.popen.returncode, self.log()))
            try:
                text = self.endpoint_file.read_text().strip()
            except OSError:
                text = ""
            if text:
                self.endpoint = text
                return self
            time.sleep(0.02)
        self.kill()
        pytest.fail("%s wrote no endpoint in %d s:\n%s" % (self.name, START_TIMEOUT, self.log()))

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        """SIGKILL and reap (bounded)."""
        if self.alive():
            self.popen.kill()
        if self.popen is not None:
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()

    def __repr__(self):
        return "<%s %s pid=%s>" % (self.name, self.endpoint, self.popen and self.popen.pid)


def start_agent(directory, *extra, name="agent"):
    directory = Path(directory)
    args = [ferry_exe("ferry-agent"), "--listen", "tcp://127.0.0.1:*",
            "--work-dir", str(directory / (name + "-work")), "--session-timeout", "120",
            *map(str, extra)]
    return Process(name, args, directory).start()


def start_tracker(directory, secret_file, *extra, name="tracker"):
    args = [ferry_exe("ferry-tracker"), "--listen", "tcp://127.0.0.1:*",
            "--secret-file", str(secret_file), "--heartbeat-ms", "300", *map(str, extra)]
    return Process(name, args, directory).start()


def wait_for_agents(tracker_endpoint, key, count, *security_args, env=None):
    """Waits (bounded) until `count` agents of `key` are registered with the tracker."""
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        result = subprocess.run(
            [ferry_exe("ferry"), "status", "--tracker", tracker_endpoint, "--json",
             "--timeout", "5", *map(str, security_args)],
            capture_output=True, text=True, timeout=15, env=env)
        last = result.stdout + result.stderr
        if result.returncode == 0:
            try:
                status = json.loads(result.stdout)
            except ValueError:
                status = None
            if status is not None and _count_agents(status, key) >= count:
                return
        time.sleep(0.1)
    pytest.fail("%d agent(s) of key %r did not register in %d s; last status:\n%s" %
                (count, key, START_TIMEOUT, last))


def _count_agents(status, key):
    """Agents of `key` in `ferry status --json` output (tolerant of its exact layout)."""
    agents = status.get("agents", []) if isinstance(status, dict) else []
    if isinstance(agents, dict):  # {key: [agents]}
        return len(agents.get(key, []))
    return sum(1 for a in agents if not isinstance(a, dict) or a.get("key", key) == key)


class Cluster:
    """A tracker with agents registered under `key`, and the client's security settings."""

    def __init__(self, tracker, agents, key, identity=None, tracker_key=None):
        self.tracker = tracker
        self.agents = agents
        self.key = key
        self.identity = identity  # the client's secret key file (CURVE), or None
        self.tracker_key = tracker_key  # the tracker's public key file (CURVE), or None

    @property
    def host(self):
        return self.tracker.host

    @property
    def port(self):
        return self.tracker.port

    @property
    def endpoint(self):
        return self.tracker.endpoint

    def connect_kwargs(self):
        if self.identity is None:
            return {}
        return {"identity": str(self.identity), "tracker_key": str(self.tracker_key)}


# --- session-wide environment ----------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory):
    """HOME in a temporary directory: no ~/.config/ferry identity applies by accident."""
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = old


@pytest.fixture(scope="session")
def ferry():
    """The `ferry` package (a failed import fails the tests that need it, with the reason)."""
    import ferry as package
    return package


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("ferry")


# --- model libraries ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def zoo_libs(workdir):
    """Zoo libraries built by the CLI: {"mlp": path, "cnn": path, "cnn_aot": path,
    "mlp_noparams": path (with path + ".params"), "both": path (keys mlp and cnn)}."""
    out = workdir / "libs"
    out.mkdir()
    builds = {
        "mlp": ["--zoo", "mlp"],
        "cnn": ["--zoo", "cnn"],
        "cnn_aot": ["--zoo", "cnn", "--executor", "aot"],
        "mlp_noparams": ["--zoo", "mlp", "--no-package-params"],
        "both": ["--zoo", "mlp", "--zoo", "cnn"],
    }
    libs = {}
    for name, args in builds.items():
        libs[name] = out / (name + ".so")
        run_ferry("build", *args, "-o", libs[name])
    return libs


def zoo_input(name, seed=0):
    """A deterministic float32 input for zoo model `name`."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(ZOO_INPUT_SHAPES[name]).astype(np.float32)


@pytest.fixture(scope="session")
def reference_output(workdir):
    """reference_output(lib, x, name=None, params=None) -> output 0 of `ferry run` (the CLI)."""
    counter = [0]

    def compute(lib, x, name=None, params=None):
        counter[0] += 1
        d = workdir / ("ref%d" % counter[0])
        d.mkdir()
        np.save(d / "x.npy", x)
        args = ["run", lib, "--input", "data=%s" % (d / "x.npy"), "--output-dir", d,
                "--repeat", "1"]
        if name:
            args += ["--name", name]
        if params:
            args += ["--params", params]
        run_ferry(*args)
        return np.load(d / "output_0.npy")

    return compute


# --- agents and trackers ----------------------------------------------------------------


@pytest.fixture(scope="session")
def agent(workdir):
    """A plaintext ferry-agent on a loopback port, for the whole run."""
    proc = start_agent(workdir / "agent")
    yield proc
    proc.stop()


@pytest.fixture
def fresh_agent(tmp_path):
    """A ferry-agent of its own, for tests that kill it."""
    proc = start_agent(tmp_path, name="doomed-agent")
    yield proc
    proc.kill()


@pytest.fixture(scope="session")
def secret_file(workdir):
    path = workdir / "secret"
    path.write_bytes(os.urandom(32).hex().encode())
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def tracker(workdir, secret_file):
    """A plaintext tracker with one agent registered under key "cpu"."""
    d = workdir / "cluster"
    tracker_proc = start_tracker(d, secret_file)
    agent_proc = start_agent(d, "--tracker", tracker_proc.endpoint, "--key", "cpu",
                             "--tag", "arch=test", "--secret-file", secret_file,
                             "--heartbeat-ms", "300", name="tracked-agent")
    try:
        wait_for_agents(tracker_proc.endpoint, "cpu", 1)
        yield Cluster(tracker_proc, [agent_proc], "cpu")
    finally:
        agent_proc.stop()
        tracker_proc.stop()


@pytest.fixture(scope="session")
def keys(workdir):
    """CURVE identities made by `ferry keygen`: {"tracker", "agent", "client", "stranger"} ->
    secret key path (the public key is path + ".pub"), and the authorized-keys files
    "client_keys" (only "client") and "agent_keys"."""
    d = workdir / "keys"
    d.mkdir()
    result = {}
    for name in ("tracker", "agent", "client", "stranger"):
        run_ferry("keygen", "-o", d / name)
        result[name] = d / name
    for name, members in (("client_keys", ["client"]), ("agent_keys", ["agent"])):
        lines = ["%s %s" % ((d / (m + ".pub")).read_text().strip(), m) for m in members]
        (d / name).write_text("\n".join(lines) + "\n")
        result[name] = d / name
    return result


def pub(path):
    return Path(str(path) + ".pub")


@pytest.fixture(scope="session")
def curve_tracker(workdir, secret_file, keys):
    """A CURVE tracker with one CURVE agent under key "secure"; only keys["client"] may use
    them (the client passes identity=keys["client"], tracker_key=keys["tracker"].pub)."""
    d = workdir / "curve-cluster"
    tracker_proc = start_tracker(d, secret_file, "--identity", keys["tracker"],
                                 "--agent-keys", keys["agent_keys"],
                                 "--client-keys", keys["client_keys"], name="curve-tracker")
    agent_proc = start_agent(d, "--identity", keys["agent"],
                             "--authorized-keys", keys["client_keys"],
                             "--tracker", tracker_proc.endpoint,
                             "--tracker-key", pub(keys["tracker"]), "--key", "secure",
                             "--secret-file", secret_file, "--heartbeat-ms", "300",
                             name="curve-agent")
    try:
        wait_for_agents(tracker_proc.endpoint, "secure", 1, "--identity", keys["client"],
                        "--tracker-key", pub(keys["tracker"]))
        yield Cluster(tracker_proc, [agent_proc], "secure", identity=keys["client"],
                      tracker_key=pub(keys["tracker"]))
    finally:
        agent_proc.stop()
        tracker_proc.stop()


@pytest.fixture(scope="session")
def curve_agent(workdir, keys):
    """A standalone CURVE agent admitting only keys["client"] (server key: agent.pub)."""
    proc = start_agent(workdir / "curve-agent", "--identity", keys["agent"],
                       "--authorized-keys", keys["client_keys"], name="curve-agent-direct")
    yield proc
    proc.stop()


# --- sessions ------------------------------------------------------------------------------


@pytest.fixture
def rpc(ferry):
    """ferry.rpc (its absence fails the test: the package must have it)."""
    if not hasattr(ferry, "rpc"):
        pytest.fail("ferry.rpc is not in this build of the package")
    return ferry.rpc


@pytest.fixture
def remote(rpc, agent):
    """A session on the plaintext loopback agent, closed after the test."""
    session = rpc.connect(agent.host, agent.port, timeout=30)
    yield session
    session.close()


@pytest.fixture
def tracked_remote(rpc, tracker):
    """A session granted by the plaintext tracker, closed (lease released) after the test."""
    t = rpc.connect_tracker(tracker.host, tracker.port)
    session = t.request(tracker.key, priority=0, session_timeout=60)
    yield session
    session.close()


@pytest.fixture
def curve_remote(rpc, curve_tracker):
    """A session granted by the CURVE tracker to keys["client"]."""
    t = rpc.connect_tracker(curve_tracker.host, curve_tracker.port,
                            **curve_tracker.connect_kwargs())
    session = t.request(curve_tracker.key, priority=0, session_timeout=60)
    yield session
    session.close()


@pytest.fixture(params=["local", "agent", "tracker", "curve"])
def place(request, ferry, zoo_libs):
    """Where a model runs: a `Place` with .dev, .load(lib_path) -> Module, .name."""
    kind = request.param
    if kind == "local":
        return Place(kind, None, ferry.cpu(0), lambda path: ferry.load_module(str(path)))
    fixture = {"agent": "remote", "tracker": "tracked_remote", "curve": "curve_remote"}[kind]
    session = request.getfixturevalue(fixture)

    def load(path):
        session.upload(str(path))
        return session.load_module(Path(path).name)

    return Place(kind, session, session.cpu(0), load)


class Place:
    def __init__(self, name, session, dev, load):
        self.name = name
        self.session = session
        self.dev = dev
        self.load = load

    def __repr__(self):
        return "<Place %s>" % self.name
