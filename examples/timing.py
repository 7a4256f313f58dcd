#!/usr/bin/env python3
"""Timing a model with time_evaluator, here and (optionally) on a device a tracker grants.

    PYTHONPATH=build/python /usr/bin/python3 examples/timing.py [LIB.so [KEY]] \
        [--tracker tcp://HOST:PORT --key cpu --identity me --tracker-key tracker.pub]

Without a library it builds the zoo's `cnn`. The measurement runs where the module lives:
on a remote device only the timings come back. Prints TVM's statistics in milliseconds.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import ferry
from ferry import graph_executor


def time_model(lib, key, dev, label):
    gmod = graph_executor.GraphModule(lib[key](dev))
    shapes, dtypes = gmod.get_input_info()
    for name, shape in shapes.items():
        gmod.set_input(name, np.zeros(shape, dtype=dtypes[name]))
    # number: runs per repeat; repeat: how many results; min_repeat_ms raises `number` until a
    # repeat lasts that long. The function is called once to warm up first.
    timer = gmod.module.time_evaluator("run", dev, number=10, repeat=5, min_repeat_ms=50)
    result = timer()
    print("%-8s %s: mean %.4f ms, median %.4f ms, min %.4f ms, max %.4f ms, std %.4f ms "
          "(%d repeats)" % (label, key, result.mean * 1e3, result.median * 1e3, result.min * 1e3,
                            result.max * 1e3, result.std * 1e3, len(result.results)))
    return result


def main(argv):
    env = os.environ.get
    p = argparse.ArgumentParser()
    p.add_argument("library", nargs="?")
    p.add_argument("model_key", nargs="?")
    p.add_argument("--tracker", default=env("FERRY_TRACKER"))
    p.add_argument("--key", default=env("FERRY_KEY", "cpu"))
    p.add_argument("--identity", default=env("FERRY_IDENTITY"))
    p.add_argument("--tracker-key", default=env("FERRY_TRACKER_KEY"))
    args = p.parse_args(argv[1:])

    path, key = args.library, args.model_key
    if path is None:
        path = os.path.join(tempfile.mkdtemp(prefix="ferry-timing-"), "cnn.so")
        ferry.build_zoo("cnn").export_library(path)
        key = "cnn"
    key = key or os.path.splitext(os.path.basename(path))[0]

    results = [time_model(ferry.load_module(path), key, ferry.cpu(0), "local")]
    if args.tracker:
        host, _, port = args.tracker.replace("tcp://", "").rpartition(":")
        tracker = ferry.rpc.connect_tracker(host, int(port), identity=args.identity,
                                            tracker_key=args.tracker_key)
        remote = tracker.request(args.key, session_timeout=60)
        remote.upload(path)
        lib = remote.load_module(os.path.basename(path))
        results.append(time_model(lib, key, remote.cpu(0), "remote"))
        remote.close()
    return 0 if all(r.mean > 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
