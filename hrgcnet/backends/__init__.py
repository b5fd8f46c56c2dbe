"""Inference backends: where the pose network's forward pass runs.

``torch``: the network itself, eager, with the estimator's autocast precision. ``openvino``: an OpenVINO model
compiled from the network's ONNX export (BatchNorm folded into the convolutions, dynamic batch): on a CPU with
native bf16 (:func:`cpu_supports_bf16`) the stem in fp32 and the rest in bf16, else fp32 (either precision on
request); exported once per network and input size into a cache (:mod:`hrgcnet.backends.openvino`). Heatmaps and
GC attention maps come from either; attributions need the torch network's gradients. On request only, OpenVINO
also runs the network in int8 (:mod:`hrgcnet.backends.int8`: faster on CPUs with VNNI, below the accuracy guard).

``auto`` picks, per :func:`resolve_backend`: torch on CUDA and for untrained (random) networks, OpenVINO on a
CPU where it is installed, else torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from ..errors import UsageError

BACKENDS: tuple[str, ...] = ("auto", "torch", "openvino")


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16).

    Uses ``torch.backends.mkldnn.is_bf16_supported`` where torch has it, else the flags of
    ``/proc/cpuinfo`` (or of the ``cpuinfo`` text given).
    """
    check = getattr(torch.backends.mkldnn, "is_bf16_supported", None)
    if cpuinfo is None and check is not None:
        try:
            return bool(check())
        except (RuntimeError, TypeError):
            pass
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


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
