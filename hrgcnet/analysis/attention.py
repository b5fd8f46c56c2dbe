"""Statistics of GC attention maps α (one ``(h, w)`` map per block and image, summing to 1).

* entropy ``H(α) = -Σ α log α`` (nats), and the normalised entropy ``H / log(h·w)`` in 0..1 (1: uniform, i.e.
  plain average pooling; 0: all weight on one position);
* effective support: the smallest share of positions that holds ``mass`` (default 90%) of α (1.0 would be
  uniform-ish; small values mean the block pools from a few places);
* the peak ``max α · h·w`` (how many times the uniform weight the top position gets).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import torch

_BLOCK_RE = re.compile(r"stage(?P<stage>\d+)(?:\.module(?P<module>\d+)\.branch(?P<branch>\d+))?\.block(?P<index>\d+)")


def parse_block_name(name: str) -> dict:
    """``stage3.module2.branch0.block1`` -> ``{"stage": 3, "module": 2, "branch": 0, "index": 1}`` (stage 1:
    module and branch 0)."""
    m = _BLOCK_RE.fullmatch(name)
    if m is None:
        raise ValueError(f"not a GC block name: {name!r}")
    return {k: int(v) if v is not None else 0 for k, v in m.groupdict().items()}


def _as_numpy(alpha: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(alpha, torch.Tensor):
        alpha = alpha.detach().float().cpu().numpy()
    return np.asarray(alpha, dtype=np.float64)


def entropy(alpha: torch.Tensor | np.ndarray) -> np.ndarray:
    """Entropy in nats of each map: ``(..., h, w)`` -> ``(...)``."""
    a = _as_numpy(alpha)
    flat = a.reshape(*a.shape[:-2], -1)
    return -(flat * np.log(np.clip(flat, 1e-30, None))).sum(axis=-1)


def effective_support(alpha: torch.Tensor | np.ndarray, mass: float = 0.9) -> np.ndarray:
    """Smallest share of positions (0..1] whose largest weights sum to at least ``mass``: ``(..., h, w)`` -> ``(...)``."""
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    a = _as_numpy(alpha)
    flat = a.reshape(*a.shape[:-2], -1)
    n = flat.shape[-1]
    cum = np.cumsum(-np.sort(-flat, axis=-1), axis=-1)
    total = cum[..., -1:]
    k = (cum < mass * total - 1e-12).sum(axis=-1) + 1  # number of positions needed
    return np.minimum(k, n) / n


def attention_stats(maps: Mapping[str, torch.Tensor | np.ndarray], mass: float = 0.9) -> list[dict]:
    """One row per block and image: ``{"block", "stage", "module", "branch", "index", "image", "h", "w",
    "entropy", "entropy_norm", "support", "peak"}``.

    Args:
        maps: ``{block_name: α (N, h, w)}`` as filled by :func:`hrgcnet.models.capture_gc_attention`.
        mass: the share of α that ``support`` must cover.
    """
    rows = []
    for name, alpha in maps.items():
        a = _as_numpy(alpha)
        if a.ndim == 2:
            a = a[None]
        _, h, w = a.shape
        ent = entropy(a)
        sup = effective_support(a, mass)
        peak = a.reshape(a.shape[0], -1).max(axis=1) * h * w
        where = parse_block_name(name)
        for i in range(a.shape[0]):
            rows.append({"block": name, **where, "image": i, "h": h, "w": w, "entropy": float(ent[i]),
                         "entropy_norm": float(ent[i] / math.log(h * w)) if h * w > 1 else 0.0,
                         "support": float(sup[i]), "peak": float(peak[i])})
    return rows


def summarize_by(rows: list[dict], key: str = "stage") -> list[dict]:
    """Mean of ``entropy_norm``, ``support`` and ``peak`` over rows grouped by ``key`` (``"stage"``, ``"block"``,
    ``"image"``...): ``{key, "blocks", "entropy_norm", "support", "peak"}`` sorted by ``key``."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    out = []
    for k in sorted(groups):
        g = groups[k]
        out.append({key: k, "blocks": len({r["block"] for r in g}),
                    "entropy_norm": float(np.mean([r["entropy_norm"] for r in g])),
                    "support": float(np.mean([r["support"] for r in g])),
                    "peak": float(np.mean([r["peak"] for r in g]))})
    return out
