"""Which pixels of a person's crop drive one keypoint's heatmap peak (captum attributions).

The target is the value of keypoint ``k``'s heatmap at its peak ``(py, px)`` (found by a plain forward
pass of the crop): ``f(x) = model(x)[:, k, py, px]``. Two methods:

* ``"saliency"``: ``|df/dx|`` at the crop (one forward + backward);
* ``"integrated_gradients"``: ``(x - x0) * mean_t df/dx(x0 + t (x - x0))`` along the straight path from a
  black crop ``x0`` to the crop, with ``n_steps`` points (Sundararajan et al. 2017).

Time is bounded on a CPU: the first forward pass is timed, and ``n_steps`` is reduced so that the
gradient passes fit ``time_budget_s`` (a forward + backward is counted as 3 forwards); when not even
two steps fit, Saliency is used instead and a note says so. Progress is reported through an optional
``progress(fraction, message)`` callback, once per batch of ``internal_batch_size`` path points.

Shapes: ``image (H, W, 3)`` uint8 RGB; ``crop (h, w, 3)`` uint8 RGB of the network's ``input_hw``;
tensors ``(1, 3, h, w)`` ImageNet-normalised; attribution maps ``(h, w)`` in the crop's pixels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import UsageError
from ..structures.bbox import box_xyxy_to_center_scale, warp_crop
from ..structures import IMAGENET_MEAN, IMAGENET_STD, KEYPOINT_NAMES

METHODS = ("integrated_gradients", "saliency")
#: ``magnitude`` is scaled by this percentile of ``sum_c |attribution|`` (the top 1% saturate at 1).
MAGNITUDE_PERCENTILE = 99.0
#: Cost of one forward + backward pass, in forward passes (used to fit ``n_steps`` into the budget).
BACKWARD_COST = 3.0

ProgressFn = Callable[[float, str], None]


@dataclass
class Attribution:
    """One keypoint's attribution over a crop.

    Attributes:
        attribution: ``(3, h, w)`` float32 raw attribution per input channel.
        magnitude: ``(h, w)`` float32 ``sum_c |attribution|`` divided by its 99th percentile and clipped to
            [0, 1], so that a few extreme pixels do not hide the rest (all zeros when the map is zero).
        keypoint: keypoint index k; ``peak_xy``: its heatmap peak (x, y) in heatmap pixels.
        method: the method actually used; ``n_steps``: path points of Integrated Gradients (1 for Saliency).
        elapsed_s: wall time of the whole call; ``notes``: messages for the user.
    """

    attribution: np.ndarray
    magnitude: np.ndarray
    keypoint: int
    peak_xy: tuple[int, int]
    method: str
    n_steps: int
    elapsed_s: float
    notes: list[str] = field(default_factory=list)


def person_crop(image: np.ndarray, box: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """The crop ``(h, w, 3)`` uint8 of one ``box (4,)`` xyxy, as the pipeline cuts it (official
    center/scale: padded to the input aspect ratio and x1.25)."""
    center, scale = box_xyxy_to_center_scale(np.asarray(box, dtype=np.float64).reshape(1, 4), input_hw)
    return warp_crop(np.ascontiguousarray(image), center[0], scale[0], input_hw)


def crop_to_tensor(crop: np.ndarray) -> torch.Tensor:
    """``(h, w, 3)`` uint8 RGB -> ``(1, 3, h, w)`` float32 ImageNet-normalised."""
    x = torch.from_numpy(np.ascontiguousarray(crop)).float().div_(255.0).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def attribute_keypoint(model: nn.Module, crop: np.ndarray, keypoint: int, method: str = "integrated_gradients",
                       n_steps: int = 16, internal_batch_size: int = 4, time_budget_s: float = 20.0,
                       progress: ProgressFn | None = None) -> Attribution:
    """Attribute keypoint ``keypoint``'s heatmap peak to the pixels of ``crop``.

    Args:
        model: a pose model ``(N, 3, H, W) -> (N, K, H/4, W/4)``; used in eval mode, left unchanged.
        crop: ``(h, w, 3)`` uint8 RGB, h and w multiples of 32 (see :func:`person_crop`).
        keypoint: index in ``KEYPOINT_NAMES``.
        method: ``"integrated_gradients"`` or ``"saliency"``.
        n_steps: Integrated Gradients path points (reduced to fit ``time_budget_s``).
        internal_batch_size: path points per forward/backward batch (memory bound).
        time_budget_s: rough wall-time bound of the gradient passes.
        progress: called as ``progress(fraction in [0, 1], message)``.

    Raises:
        UsageError: unknown method, keypoint out of range, or a crop of the wrong shape.
    """
    from captum.attr import IntegratedGradients, Saliency  # heavy import, only when used

    if method not in METHODS:
        raise UsageError(f"unknown attribution method {method!r}; choose from {', '.join(METHODS)}")
    crop = np.asarray(crop)
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
        raise UsageError(f"crop must be (h, w, 3) uint8 RGB, got {crop.shape} {crop.dtype}")
    if not 0 <= int(keypoint) < len(KEYPOINT_NAMES):
        raise UsageError(f"keypoint must be in 0..{len(KEYPOINT_NAMES) - 1}, got {keypoint}")
    keypoint = int(keypoint)
    n_steps = max(2, int(n_steps))
    internal_batch_size = max(1, int(internal_batch_size))
    report = progress or (lambda fraction, message: None)
    notes: list[str] = []
    start = time.perf_counter()
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = crop_to_tensor(crop).to(device)
        report(0.0, "finding the heatmap peak")
        with torch.no_grad():
            heatmap = model(x)[0, keypoint]  # (h/4, w/4)
        forward_s = time.perf_counter() - start
        flat = int(torch.argmax(heatmap))
        py, px = divmod(flat, heatmap.shape[1])

        calls = {"done": 0, "total": 1}

        def target(inp: torch.Tensor) -> torch.Tensor:  # (B, 3, h, w) -> (B,)
            out = model(inp)[:, keypoint, py, px]
            calls["done"] += 1
            report(min(calls["done"] / calls["total"], 1.0),
                   f"gradient pass {calls['done']}/{calls['total']}")
            return out

        if method == "integrated_gradients":
            per_point_s = max(forward_s, 1e-3) * BACKWARD_COST
            fit = int((time_budget_s - forward_s) // per_point_s)
            if fit < 2:
                notes.append(f"Integrated Gradients would not fit the {time_budget_s:.0f} s budget on this "
                             f"machine ({per_point_s:.1f} s per path point): Saliency was used instead")
                method = "saliency"
            elif fit < n_steps:
                notes.append(f"Integrated Gradients reduced from {n_steps} to {fit} path points to fit the "
                             f"{time_budget_s:.0f} s budget")
                n_steps = fit
        x = x.clone().requires_grad_(True)
        if method == "saliency":
            calls["total"] = 1
            attr = Saliency(target).attribute(x, abs=False)
            n_used = 1
        else:
            calls["total"] = math.ceil(n_steps / internal_batch_size)
            baseline = crop_to_tensor(np.zeros_like(crop)).to(device)
            attr = IntegratedGradients(target).attribute(x, baselines=baseline, n_steps=n_steps,
                                                         internal_batch_size=internal_batch_size)
            n_used = n_steps
    finally:
        model.train(was_training)
    raw = attr.detach()[0].float().cpu().numpy()  # (3, h, w)
    magnitude = np.abs(raw).sum(axis=0)
    top = float(np.percentile(magnitude, MAGNITUDE_PERCENTILE))
    if top <= 0:
        top = float(magnitude.max(initial=0.0))
    magnitude = (np.clip(magnitude / top, 0.0, 1.0) if top > 0 else np.zeros_like(magnitude)).astype(np.float32)
    report(1.0, "done")
    return Attribution(attribution=raw.astype(np.float32), magnitude=magnitude, keypoint=keypoint,
                       peak_xy=(int(px), int(py)), method=method, n_steps=n_used,
                       elapsed_s=time.perf_counter() - start, notes=notes)
