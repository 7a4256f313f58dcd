#!/usr/bin/env python3
"""The RFC's example (examples/rfc_local.py) on a device that a tracker grants.

    PYTHONPATH=build/python /usr/bin/python3 examples/rfc_remote.py \
        --tracker tcp://127.0.0.1:9191 --key cpu [--identity me --tracker-key tracker.pub]

Each option can come from the environment instead: FERRY_TRACKER, FERRY_KEY,
FERRY_IDENTITY (this client's `ferry keygen` secret key) and FERRY_TRACKER_KEY (the
tracker's public key, a file or Z85 text). With --agent tcp://HOST:PORT (FERRY_AGENT) and
--server-key (FERRY_SERVER_KEY) it connects to an agent directly instead.

The library is built and exported here, uploaded, loaded in the session and run with the
same lines as locally, only with `remote.load_module` and `remote.cpu(0)`. The output is
compared with a local run; the exit status says whether they are equal bit for bit.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import ferry
from ferry import graph_executor


def parse_args(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracker", default=env("FERRY_TRACKER"), help="tcp://HOST:PORT")
    p.add_argument("--key", default=env("FERRY_KEY", "cpu"), help="device key (cpu)")
    p.add_argument("--agent", default=env("FERRY_AGENT"), help="tcp://HOST:PORT (no tracker)")
    p.add_argument("--identity", default=env("FERRY_IDENTITY"), help="secret key file")
    p.add_argument("--tracker-key", default=env("FERRY_TRACKER_KEY"), help="tracker's key")
    p.add_argument("--server-key", default=env("FERRY_SERVER_KEY"), help="agent's key")
    p.add_argument("--work-dir", default=None)
    args = p.parse_args(argv[1:])
    if not args.tracker and not args.agent:
        p.error("give --tracker (or FERRY_TRACKER) or --agent (or FERRY_AGENT)")
    return args


def host_port(endpoint):
    host, _, port = endpoint.replace("tcp://", "").rpartition(":")
    return host, int(port)


def open_session(args):
    if args.agent:
        host, port = host_port(args.agent)
        return ferry.rpc.connect(host, port, identity=args.identity, server_key=args.server_key)
    host, port = host_port(args.tracker)
    tracker = ferry.rpc.connect_tracker(host, port, identity=args.identity,
                                        tracker_key=args.tracker_key)
    return tracker.request(args.key, priority=0, session_timeout=60)


def main(argv):
    args = parse_args(argv)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="ferry-rfc-remote-")
    factory, key = ferry.build_zoo("cnn"), "cnn"
    path = os.path.join(work_dir, key + ".so")
    factory.export_library(path)
    path_no_params = os.path.join(work_dir, key + "_no_params.so")
    factory.export_library(path_no_params, package_params=False)
    data = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype("float32")

    remote = open_session(args)
    print("session: %r" % (remote,))
    remote.upload(path)
    remote.upload(path_no_params)
    dev = remote.cpu(0)

    # --- the RFC's example, as in rfc_local.py ------------------------------------------------
    lib = remote.load_module(os.path.basename(path))
    gmod = lib[key](dev)
    gmod["set_input"]("data", data)
    gmod["run"]()
    out = gmod["get_output"](0).numpy()

    # Without packaged parameters: the parameters travel from here.
    lib = remote.load_module(os.path.basename(path_no_params))
    gmod = lib[key](dev)
    gmod["load_params"](open(path_no_params + ".params", "rb").read())
    gmod["set_input"](data=ferry.nd.array(data, dev))  # an array already on the device
    gmod["run"]()
    out_no_params = gmod["get_output"](0).numpy()

    # The wrapper.
    gmod = graph_executor.GraphModule(remote.load_module(os.path.basename(path))[key](dev))
    gmod.set_input("data", data)
    gmod.run()
    out_wrapper = gmod.get_output(0).numpy()
    # -----------------------------------------------------------------------------------------

    local = graph_executor.GraphModule(ferry.load_module(path)[key](ferry.cpu(0)))
    local.set_input("data", data)
    local.run()
    out_local = local.get_output(0).numpy()
    remote.close()

    print("model %s on %r: output %s %s" % (key, dev, out.shape, out.dtype))
    print(np.array2string(out, precision=5))
    ok = (np.array_equal(out, out_no_params) and np.array_equal(out, out_wrapper)
          and np.array_equal(out, out_local))
    print("remote == remote without params == wrapper == local: %s" % ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
