#!/usr/bin/env python3
"""Times PyTorch's single-input inference of the models onnx_models_bench builds.

The models are the ones tests/onnx/export_torchvision.py exports (its make_model: same
architecture, seed and batch-norm statistics; the torchvision classifiers and its
EXTRA_MODELS, such as transformer_encoder), so PyTorch runs exactly the network Ferry runs, on
the same input: MODELS_DIR/NAME.input.npy, or without --models-dir the script's make_input
(the model's own input shape).
For each model this prints one JSON object on a line of its own:

  {"model": "resnet18", "threads": 1, "max_abs_diff": 0.0, "faults_per_run": 0.0,
   "times_ms": [12.3, ...]}

threads is torch.get_num_threads() while timing; max_abs_diff compares the model's output on
MODELS_DIR/NAME.input.npy with MODELS_DIR/NAME.output.npy (what the exported ONNX file was
recorded with; -1 without --models-dir); faults_per_run is the process's minor page faults
over the timed runs divided by their number; times_ms holds one `model(x)` call under
torch.no_grad() per timed run, after the warm-up runs.

Runs with Debian's /usr/bin/python3 (python3-torch, python3-torchvision); exit code 3 means
the packages are missing.
"""
import argparse
import json
import os
import resource
import sys
import time

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--models-dir", help="directory of export_torchvision.py's outputs")
    return parser.parse_args()


def main():
    args = parse_args()
    # Before torch loads: OpenBLAS (torch's BLAS on Debian) sizes its pool when it initialises.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, os.path.join(SCRIPT_DIR, os.pardir, "tests", "onnx"))
    import export_torchvision  # exits 3 when torch or torchvision is missing
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    for name in args.model:
        model = export_torchvision.make_model(name)
        x = export_torchvision.make_input(name)
        max_abs_diff = -1.0
        with torch.no_grad():
            if args.models_dir:
                x = torch.from_numpy(np.load(os.path.join(args.models_dir, name + ".input.npy")))
                recorded = np.load(os.path.join(args.models_dir, name + ".output.npy"))
                max_abs_diff = float(np.max(np.abs(model(x).numpy() - recorded)))
            for _ in range(args.warmup):
                model(x)
            times_ms = []
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(args.runs):
                start = time.perf_counter()
                model(x)
                times_ms.append((time.perf_counter() - start) * 1000)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        print(json.dumps({"model": name, "threads": torch.get_num_threads(),
                          "max_abs_diff": max_abs_diff, "faults_per_run": faults / args.runs,
                          "times_ms": times_ms}), flush=True)


if __name__ == "__main__":
    main()
