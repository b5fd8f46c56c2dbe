"""Inference backends: where the pose network's forward pass runs.

``torch``: the network itself, eager, with the estimator's autocast precision. ``openvino``: an OpenVINO model
compiled from the network's ONNX export (BatchNorm folded into the convolutions, dynamic batch), in fp32 (bf16 on
request: faster, less exact); exported once per network and input size into a cache
(:mod:`hrgcnet.backends.openvino`). Heatmaps come from either; GC attention maps and attributions need the
torch network's hooks, so a call that asks for attention runs torch.

``auto`` picks, per :func:`resolve_backend`: torch on CUDA and for untrained (random) networks, OpenVINO on a
CPU where it is installed, else torch.
"""

from __future__ import annotations

import importlib.util

import torch

from ..errors import UsageError

BACKENDS: tuple[str, ...] = ("auto", "torch", "openvino")


def openvino_available() -> bool:
    """OpenVINO and the onnx package (the export goes through ONNX) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("openvino", "onnx"))


def resolve_backend(backend: str, device: torch.device, untrained: bool = False) -> str:
    """The backend that ``backend`` means for a network on ``device`` (``untrained``: random weights, which
    ``auto`` keeps on torch rather than export).

    Raises:
        UsageError: an unknown name, ``openvino`` on CUDA or without OpenVINO installed.
    """
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "openvino" if device.type == "cpu" and not untrained and openvino_available() else "torch"
    if backend == "openvino":
        if device.type != "cpu":
            raise UsageError(f"the openvino backend runs on the CPU, not on {device}; use backend='torch'")
        if not openvino_available():
            raise UsageError("the openvino backend needs OpenVINO and onnx: pip install openvino onnx")
    return backend
