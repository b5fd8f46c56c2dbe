"""Parameter and multiply-accumulate counts.

Convention (official HRNet, behind its "7.1G"): count the multiply-accumulates (MACs) of convolutions and
matrix products (incl. the GC block's attention pooling) and report ``gflops = MACs / 2**30``. BN, ReLU,
softmax, upsampling and additions are not counted. Counting uses ``torch.utils.flop_counter`` (which
reports 2 FLOPs per MAC) on a meta-free CPU forward of batch 1.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

#: Table I / Table II of the paper (COCO val), for side-by-side listings. ("paper" values, not ours.)
PAPER_TABLE1: dict[tuple[str, str], dict[str, float]] = {
    ("hrnet-w32", "256x192"): {"params_m": 28.5, "gflops": 7.1, "ap": 74.4},
    ("hrnet-w48", "256x192"): {"params_m": 63.6, "gflops": 14.6, "ap": 75.1},
    ("hrnet-w32", "384x288"): {"params_m": 28.5, "gflops": 16.0, "ap": 75.8},
    ("hrnet-w48", "384x288"): {"params_m": 63.6, "gflops": 32.9, "ap": 76.3},
    ("hrgcnet-w32", "256x192"): {"params_m": 29.6, "gflops": 7.11, "ap": 76.6},
    ("hrgcnet-w48", "256x192"): {"params_m": 64.6, "gflops": 14.6, "ap": 77.4},
    ("hrgcnet-w32", "384x288"): {"params_m": 29.6, "gflops": 16.1, "ap": 78.0},
    ("hrgcnet-w48", "384x288"): {"params_m": 64.6, "gflops": 32.9, "ap": 78.4},
}


def parse_input_size(text: str) -> tuple[int, int]:
    """``"256x192"`` -> ``(256, 192)`` (H, W); both must be positive multiples of 32."""
    from ..errors import UsageError

    try:
        h, w = (int(v) for v in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise UsageError(f"input size must look like 256x192 (HxW), got {text!r}") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise UsageError(f"input size must be positive multiples of 32 (HxW), got {text!r}")
    return h, w


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_hw: tuple[int, int], by_module: bool = False):
    """MACs of one forward at batch 1; with ``by_module`` also ``{module path: MACs}`` (leaf-level totals)."""
    x = torch.zeros(1, 3, *input_hw)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    total = counter.get_total_flops() // 2
    if not by_module:
        return total
    per = defaultdict(int)
    for path, ops in counter.get_flop_counts().items():
        per[path] = sum(ops.values()) // 2
    return total, dict(per)


def profile_model(name: str, input_hw: tuple[int, int]) -> dict:
    """``{"model", "input_size", "params", "macs", "gflops"}`` for model ``name`` (gflops = MACs / 2^30)."""
    from .registry import create_model

    model = create_model(name)
    macs = count_macs(model, input_hw)
    return {
        "model": name,
        "input_size": f"{input_hw[0]}x{input_hw[1]}",
        "params": count_params(model),
        "macs": int(macs),
        "gflops": round(macs / 2 ** 30, 3),
        "gflops_convention": "MACs / 2^30 (official HRNet)",
    }
