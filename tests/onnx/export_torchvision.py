#!/usr/bin/env python3
"""Exports torchvision models (and a transformer encoder block) to ONNX with PyTorch's outputs.

For each model (resnet18, mobilenet_v2, squeezenet1_1 by default) this writes, under OUT_DIR:
  NAME.onnx         the model (random initial weights from a fixed seed, eval mode, opset 13;
                    its input is named "data")
  NAME.input.npy    a fixed float32 input of the model's own shape (input_shape: [1, 3, 224, 224]
                    for the torchvision classifiers)
  NAME.output.npy   PyTorch's output for that input

NAME is a torchvision classification model, or one of EXTRA_MODELS (not exported by default):
  transformer_encoder  torch.nn.TransformerEncoderLayer(d_model=256, nhead=4,
                       dim_feedforward=1024, batch_first=True) on float32 [1, 128, 256]
                       (batch 1, 128 tokens of 256 features)

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
TORCHVISION_INPUT_SHAPE = (1, 3, 224, 224)


def make_transformer_encoder():
    layer = torch.nn.TransformerEncoderLayer(d_model=256, nhead=4, dim_feedforward=1024,
                                             batch_first=True)
    # Fresh layer norms are the identity's scale and shift, and attention's biases start at 0;
    # random ones make them count.
    with torch.no_grad():
        for module in layer.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
        layer.self_attn.in_proj_bias.uniform_(-0.1, 0.1)
        layer.self_attn.out_proj.bias.uniform_(-0.1, 0.1)
    return layer


# Models beyond torchvision's classifiers: name -> (constructor, input shape, output name).
EXTRA_MODELS = {
    "transformer_encoder": (make_transformer_encoder, (1, 128, 256), "output"),
}


def input_shape(name):
    """The shape of NAME's input (float32)."""
    return EXTRA_MODELS[name][1] if name in EXTRA_MODELS else TORCHVISION_INPUT_SHAPE


def output_name(name):
    """The name of NAME's output in the ONNX file."""
    return EXTRA_MODELS[name][2] if name in EXTRA_MODELS else "logits"


def make_model(name):
    """The model `export` writes, in eval mode (bench/torch_latency.py times it)."""
    torch.manual_seed(SEED)
    if name in EXTRA_MODELS:
        model = EXTRA_MODELS[name][0]()
        model.eval()
        return model
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


def make_input(name):
    """The input `export` records as NAME.input.npy."""
    generator = torch.Generator().manual_seed(SEED + 1)
    return torch.rand(input_shape(name), generator=generator, dtype=torch.float32)


def export(name, out_dir):
    model = make_model(name)
    x = make_input(name)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, x, path, input_names=["data"], output_names=[output_name(name)],
                      opset_version=13, do_constant_folding=True)
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    np.save(os.path.join(out_dir, name + ".output.npy"), y.numpy())
    print(f"exported {name}: {path} output {tuple(y.shape)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--model", action="append",
                        help="a torchvision classification model or "
                        f"{' or '.join(EXTRA_MODELS)} (default: {', '.join(MODELS)})")
    args = parser.parse_args()
    for name in args.model or ():
        if name not in EXTRA_MODELS and not callable(getattr(torchvision.models, name, None)):
            parser.error(f"torchvision.models has no model '{name}', and it is not one of "
                         f"{', '.join(EXTRA_MODELS)}")
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.model or MODELS:
        export(name, args.out_dir)


if __name__ == "__main__":
    main()
