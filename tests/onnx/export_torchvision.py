#!/usr/bin/env python3
"""Exports torchvision models to ONNX with PyTorch's reference outputs.

For each model (resnet18, mobilenet_v2, squeezenet1_1 by default) this writes, under OUT_DIR:
  NAME.onnx         the model (random initial weights from a fixed seed, eval mode, opset 13)
  NAME.input.npy    a fixed float32 input [1, 3, 224, 224]
  NAME.output.npy   PyTorch's output for that input

Runs with Debian's /usr/bin/python3 (python3-torch, python3-torchvision). Exit code 3 means
the packages are missing, so callers can report the test as skipped.
"""
import argparse
import os
import sys

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:  # reported as "skipped" by the caller
    print(f"export_torchvision: missing package: {e}", file=sys.stderr)
    sys.exit(3)

MODELS = ("resnet18", "mobilenet_v2", "squeezenet1_1")
SEED = 20261126


def make_model(name):
    """The model `export` writes, in eval mode (bench/torch_latency.py times it)."""
    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None)
    # Fresh batch-norm layers hold identity statistics; random ones make every layer count
    # (and keep mobilenet_v2's activations from fading towards zero).
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    model.eval()
    return model


def make_input():
    """The input `export` records as NAME.input.npy."""
    generator = torch.Generator().manual_seed(SEED + 1)
    return torch.rand((1, 3, 224, 224), generator=generator, dtype=torch.float32)


def export(name, out_dir):
    model = make_model(name)
    x = make_input()
    with torch.no_grad():
        y = model(x)
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, x, path, input_names=["data"], output_names=["logits"],
                      opset_version=13, do_constant_folding=True)
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    np.save(os.path.join(out_dir, name + ".output.npy"), y.numpy())
    print(f"exported {name}: {path} output {tuple(y.shape)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--model", action="append",
                        help=f"a torchvision classification model (default: {', '.join(MODELS)})")
    args = parser.parse_args()
    for name in args.model or ():
        if not callable(getattr(torchvision.models, name, None)):
            parser.error(f"torchvision.models has no model '{name}'")
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.model or MODELS:
        export(name, args.out_dir)


if __name__ == "__main__":
    main()
