"""Compatibility shim for a torchvision whose compiled operators do not load.

Some environments pair a CPU-only torch with a torchvision wheel whose ``_C`` extension was built
against another torch. ``import torchvision`` then fails with
``RuntimeError: operator torchvision::nms does not exist``, because its ``_meta_registrations``
registers fake kernels for ``torchvision::nms`` and ``torchvision::qnms`` unconditionally. Ultralytics
imports torchvision when it warms a model up and then calls ``torchvision.ops.nms``.

:func:`ensure_torchvision_ops` checks whether the compiled operator exists (loading torchvision's
``_C`` library if needed). Only when it does not, it defines ``torchvision::nms`` and
``torchvision::qnms`` with :mod:`torch.library` as pure-torch CPU/CUDA kernels, imports
torchvision, and points ``torchvision.ops.nms`` at the registered operator (the stock wrapper refuses
to run without the compiled extension). The other compiled operators (``roi_align``, ``deform_conv2d``
...) stay unavailable; torchvision already falls back to Python for ``roi_align``.

Shapes: ``boxes (N, 4)`` x1, y1, x2, y2; ``scores (N,)``; returned indices ``(M,)`` int64.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

import torch

#: Outcome of :func:`ensure_torchvision_ops` in this process: None (not run yet), "native", "shim",
#: or "unavailable" (torchvision is not installed).
_STATE: str | None = None
#: Keeps the operator definitions alive (a dropped ``Library`` deregisters its operators).
_LIBRARY: torch.library.Library | None = None


def nms_pure_torch(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression with the semantics of ``torchvision.ops.nms``.

    Boxes are visited by decreasing score; a box is dropped when its IoU with an already kept box is
    greater than ``iou_threshold``. Memory is ``O(N)`` (no ``N x N`` IoU matrix).

    Args:
        boxes: ``(N, 4)`` x1, y1, x2, y2 (any real or integer dtype).
        scores: ``(N,)``.
        iou_threshold: IoU above which the lower-scored box is suppressed.

    Returns:
        ``(M,)`` int64 indices of the kept boxes, by decreasing score, on ``boxes.device``.
    """
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be (N, 4), got {tuple(boxes.shape)}")
    if scores.dim() != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"scores must be (N,) with N = {boxes.shape[0]}, got {tuple(scores.shape)}")
    device = boxes.device
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    b = boxes.detach().to("cpu", torch.float64)
    order = torch.sort(scores.detach().to("cpu", torch.float64), descending=True, stable=True).indices
    b = b[order]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    suppressed = torch.zeros(b.shape[0], dtype=torch.bool)
    keep: list[int] = []
    for i in range(b.shape[0]):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = b[i + 1:]
        iw = (torch.minimum(rest[:, 2], b[i, 2]) - torch.maximum(rest[:, 0], b[i, 0])).clamp(min=0)
        ih = (torch.minimum(rest[:, 3], b[i, 3]) - torch.maximum(rest[:, 1], b[i, 1])).clamp(min=0)
        inter = iw * ih
        iou = inter / (area[i] + area[i + 1:] - inter)
        suppressed[i + 1:] |= iou > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)].to(device)


def _torchvision_installed() -> bool:
    return importlib.util.find_spec("torchvision") is not None


def compiled_nms_available() -> bool:
    """True when ``torchvision::nms`` exists or torchvision's compiled ``_C`` library provides it.

    Loads the ``_C`` library (as ``import torchvision`` would) without importing torchvision.
    """
    if _op_defined():
        return True
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    for folder in spec.submodule_search_locations:
        for path in sorted(glob.glob(os.path.join(folder, "_C*.so")) + glob.glob(os.path.join(folder, "_C*.pyd"))):
            try:
                torch.ops.load_library(path)
            except (OSError, RuntimeError):
                continue
    return _op_defined()


def _op_defined() -> bool:
    try:
        torch._C._dispatch_has_kernel_for_dispatch_key("torchvision::nms", "CPU")
    except RuntimeError:  # "operator torchvision::nms does not exist"
        return False
    return True


def register_pure_torch_ops() -> None:
    """Define ``torchvision::nms`` and ``torchvision::qnms`` with :func:`nms_pure_torch` kernels.

    Must run before ``import torchvision``. Raises ``RuntimeError`` if the operators already exist.
    """
    global _LIBRARY
    lib = torch.library.Library("torchvision", "DEF")
    for name in ("nms", "qnms"):
        lib.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        for key in ("CPU", "CUDA"):
            lib.impl(name, nms_pure_torch, key)
    _LIBRARY = lib


def _patch_torchvision_nms() -> None:
    """Route ``torchvision.ops.nms`` to the registered operator (its wrapper demands ``_C``)."""
    import torchvision.ops
    import torchvision.ops.boxes

    def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
        return torch.ops.torchvision.nms(boxes, scores, float(iou_threshold))

    nms.__doc__ = "Pure-torch NMS registered by hrgcnet.compat (torchvision's compiled ops are missing)."
    torchvision.ops.boxes.nms = nms  # batched_nms looks the name up in this module
    torchvision.ops.nms = nms


def ensure_torchvision_ops() -> str:
    """Make ``import torchvision`` and ``torchvision.ops.nms`` work; call before importing ultralytics.

    Returns:
        ``"native"`` when the compiled operator exists (nothing is changed), ``"shim"`` when the
        pure-torch operators were registered, ``"unavailable"`` when torchvision is not installed.
        Idempotent: later calls return the first outcome.
    """
    global _STATE
    if _STATE is not None:
        return _STATE
    installed = _torchvision_installed()
    decision = decide_shim(installed, installed and compiled_nms_available())
    if decision == "shim":
        if "torchvision" in sys.modules:  # cannot happen: importing it fails without the operator
            raise RuntimeError("torchvision was imported before hrgcnet.compat.ensure_torchvision_ops()")
        register_pure_torch_ops()
        _patch_torchvision_nms()
    _STATE = decision
    return _STATE


def decide_shim(torchvision_installed: bool, compiled_op_available: bool) -> str:
    """``"unavailable"`` without torchvision, ``"native"`` when its compiled NMS exists, else ``"shim"``."""
    if not torchvision_installed:
        return "unavailable"
    return "native" if compiled_op_available else "shim"
