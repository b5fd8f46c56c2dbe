"""Latency of the pose network alone (no detector, no decoding) on this machine.

One measurement = ``warmup`` untimed forwards, then ``repeats`` timed forwards of a random batch
``(batch, 3, H, W)`` under ``torch.inference_mode`` (and ``torch.autocast`` for bf16/fp16), synchronising the
device around each call. Untrained weights run at the same speed as trained ones, so no weights are needed.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..errors import UsageError
from ..models.registry import create_model

#: Precisions and the autocast dtype they use (None: plain fp32).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

Progress = Callable[[int, int, str], None]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; other names passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise UsageError(f"unknown device {device!r}: {exc}") from None


def available_precisions(device: str | torch.device = "cpu") -> list[str]:
    """Precisions that run on ``device``: fp32 and bf16 everywhere, fp16 only on CUDA (CPU fp16 convs are slow
    emulation, not a deployment option)."""
    dev = resolve_device(device) if isinstance(device, str) else device
    return ["fp32", "bf16", "fp16"] if dev.type == "cuda" else ["fp32", "bf16"]


def machine_info(device: str | torch.device = "cpu") -> dict:
    """What the numbers were measured on: ``{"device", "torch", "threads", "cpu"}``."""
    dev = resolve_device(device) if isinstance(device, str) else device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    return {"device": f"{dev.type}: {name}", "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.machine()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(model: nn.Module, batch: int, input_hw: tuple[int, int], precision: str = "fp32",
                 repeats: int = 5, warmup: int = 1, device: str | torch.device = "cpu") -> list[float]:
    """Milliseconds of each of ``repeats`` timed forwards of ``model`` (already on ``device``, eval mode)."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if batch < 1 or repeats < 1 or warmup < 0:
        raise UsageError(f"batch and repeats must be >= 1 and warmup >= 0, got {batch}, {repeats}, {warmup}")
    if len(input_hw) != 2 or min(input_hw) <= 0 or input_hw[0] % 32 or input_hw[1] % 32:
        raise UsageError(f"input size must be positive multiples of 32 (HxW), got {tuple(input_hw)}")
    dev = resolve_device(device) if isinstance(device, str) else device
    if precision not in available_precisions(dev):
        raise UsageError(f"precision {precision} is not available on {dev.type}")
    dtype = PRECISIONS[precision]
    x = torch.randn(batch, 3, *input_hw, device=dev)
    times = []
    with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        for i in range(warmup + repeats):
            _sync(dev)
            t0 = time.perf_counter()
            model(x)
            _sync(dev)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000.0)
    return times


def benchmark_latency(models: Sequence[str], batch_sizes: Sequence[int] = (1,),
                      input_sizes: Sequence[tuple[int, int]] = ((256, 192),), precisions: Sequence[str] = ("fp32",),
                      repeats: int = 5, warmup: int = 1, device: str = "cpu",
                      progress: Progress | None = None) -> list[dict]:
    """Latency of every combination of model, batch size, input size and precision.

    Returns rows ``{"model", "batch", "input_size", "precision", "device", "mean_ms", "median_ms", "std_ms",
    "min_ms", "per_image_ms", "images_per_s", "repeats"}``. ``progress(done, total, text)`` is called after
    each combination.
    """
    dev = resolve_device(device)
    jobs = [(m, b, hw, p) for m in models for hw in input_sizes for p in precisions for b in batch_sizes]
    rows: list[dict] = []
    built: dict[str, nn.Module] = {}
    for i, (name, b, hw, p) in enumerate(jobs):
        if name not in built:
            built.clear()  # one model in memory at a time
            built[name] = create_model(name).to(dev).eval()
        times = time_forward(built[name], b, hw, p, repeats=repeats, warmup=warmup, device=dev)
        median = statistics.median(times)
        rows.append({"model": name, "batch": b, "input_size": f"{hw[0]}x{hw[1]}", "precision": p,
                     "device": dev.type, "mean_ms": statistics.fmean(times), "median_ms": median,
                     "std_ms": statistics.pstdev(times), "min_ms": min(times), "per_image_ms": median / b,
                     "images_per_s": 1000.0 * b / median, "repeats": repeats})
        if progress is not None:
            progress(i + 1, len(jobs), f"{name} batch {b} {hw[0]}x{hw[1]} {p}")
    return rows
