"""Inference speed per backend (``hrgcnet bench --infer``): the network alone and a whole 640x480 frame.

* **network**: ms per forward of a batch of normalised crops, and per crop, for each configuration of
  :data:`CONFIGS` (torch fp32 eager NCHW, torch bf16 autocast + channels_last where the CPU has native bf16,
  OpenVINO fp32, and where the CPU has native bf16 OpenVINO mixed (the stem in f32, the rest in bf16: what the
  automatic backend runs there) and bf16; OpenVINO int8 where NNCF is installed); median over ``repeats`` after
  ``warmup`` calls. Batch 2 is one person with the flip test.
* **frame**: one 640x480 JPEG (``assets/three_people.jpg`` letterboxed) end to end, as the app runs it: decode,
  the default detector, then crops, network (flip test) and decoding for 1 and 8 persons (the detector's boxes
  repeated to make 8); median of each stage; for the OpenVINO configurations (else the last one).
* **ratios**: every network row against torch fp32 eager (same model, size, batch), HRGCNet/HRNet per
  configuration, frame / network (batch 2), 8 persons / 1.
* **conv floor**: the model's multiply-accumulates over the best MAC rate a large 3x3 convolution reaches in any
  fp32 or bf16 configuration here (what the network would take if every MAC ran at the machine's best convolution speed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import UsageError

#: configuration -> (backend, precision) of the estimator
CONFIGS: dict[str, tuple[str, str]] = {
    "torch fp32": ("torch", "fp32"),
    "torch bf16": ("torch", "bf16"),
    "openvino": ("openvino", "fp32"),
    "openvino mixed": ("openvino", "auto"),  # the stem in f32, the rest in bf16: auto where the CPU has native bf16
    "openvino bf16": ("openvino", "bf16"),
    "openvino int8": ("openvino", "int8"),  # NNCF post-training quantization (hrgcnet.backends.int8)
}
FRAME_HW = (480, 640)
EXAMPLE = Path(__file__).resolve().parents[2] / "assets" / "three_people.jpg"


def _median_ms(fn: Callable[[], object], repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def available_configs() -> list[str]:
    from . import cpu_supports_bf16, openvino_available
    from .int8 import nncf_available

    out = ["torch fp32"]
    if cpu_supports_bf16():
        out.append("torch bf16")
    if openvino_available():
        out += ["openvino", "openvino mixed", "openvino bf16"] if cpu_supports_bf16() else ["openvino"]
        if nncf_available():
            out.append("openvino int8")
    return out


def estimator(model: str, input_hw: tuple[int, int], config: str, detector: str = "full"):
    from ..pipeline import PoseEstimator

    if config not in CONFIGS:
        raise UsageError(f"unknown configuration {config!r}; choose from {', '.join(CONFIGS)}")
    backend, precision = CONFIGS[config]
    return PoseEstimator(model, device="cpu", backend=backend, precision=precision, input_hw=input_hw,
                         detector=detector, channels_last=precision not in ("fp32", "int8"))


def network_ms(est, batch: int, repeats: int, warmup: int) -> float:
    """Median ms of one forward pass of ``est``'s network (its backend) on a batch of random crops."""
    x = torch.randn(batch, 3, *est.input_hw)
    forward = est.fast_network or est._forward
    if est.fast_network is None and est.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        return _median_ms(lambda: forward(x), repeats, warmup)


def peak_conv_gmacs(config: str, repeats: int = 10) -> float:
    """MAC/s (in 1e9) of a 3x3 convolution, 256 -> 256 channels on a 64x48 map, batch 8, in ``config`` (for
    OpenVINO including the copies in and out of the runtime, as every call has them)."""
    conv = torch.nn.Sequential(torch.nn.Conv2d(256, 256, 3, padding=1, bias=False)).eval()
    macs = 8 * 256 * 256 * 9 * 64 * 48
    backend, precision = CONFIGS[config]
    x = torch.randn(8, 256, 64, 48)
    if backend == "openvino":
        import tempfile

        from .export import export_openvino
        from .openvino import OpenVINONetwork

        with tempfile.TemporaryDirectory() as tmp:
            net = OpenVINONetwork(export_openvino(conv, Path(tmp) / "conv.xml", (64, 48), channels=256), precision)
            ms = _median_ms(lambda: net(x), repeats, 3)
    else:
        dtype = torch.bfloat16 if precision == "bf16" else None
        if dtype is not None:
            conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            ms = _median_ms(lambda: conv(x), repeats, 3)
    return macs / (ms / 1000) / 1e9


def frame_image() -> bytes:
    """The benchmark frame: the example photo letterboxed into 640x480, as JPEG bytes."""
    import cv2

    from ..io import load_image

    image = load_image(EXAMPLE)
    h, w = FRAME_HW
    scale = min(w / image.shape[1], h / image.shape[0])
    small = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    frame = np.zeros((h, w, 3), np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return data.tobytes()


def frame_ms(est, detector, persons: int, repeats: int, warmup: int) -> dict:
    """Median ms of each stage of one frame: ``load``, ``detect``, ``pose`` (crops + network), ``decode``, and
    their sum ``total``, with ``persons`` persons (the detector's boxes, repeated)."""
    from ..io import load_image

    data = frame_image()
    image = load_image(data)
    boxes = detector(image).boxes
    if len(boxes) == 0:
        raise UsageError(f"the detector finds nobody in {EXAMPLE.name}; cannot time {persons} person(s)")
    boxes = np.resize(boxes, (persons, 4))
    stages: dict[str, list[float]] = {"load": [], "detect": [], "pose": [], "decode": []}
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        img = load_image(data)
        t1 = time.perf_counter()
        detector(img)
        t2 = time.perf_counter()
        res = est(img, boxes=boxes)
        if i >= warmup:
            stages["load"].append((t1 - t0) * 1000)
            stages["detect"].append((t2 - t1) * 1000)
            stages["pose"].append(res.timings["pose_ms"])
            stages["decode"].append(res.timings["decode_ms"])
    out = {k: statistics.median(v) for k, v in stages.items()}
    out["total"] = sum(out.values())
    return out


def bench_infer(models: Sequence[str], input_sizes: Sequence[tuple[int, int]], batches: Sequence[int] = (1, 2, 8),
                configs: Sequence[str] | None = None, repeats: int = 10, warmup: int = 3, frames: bool = True,
                progress: Callable[[str], None] | None = None) -> dict:
    """The measurements of the module docstring as one JSON-ready dict: ``machine``, ``rows`` (network),
    ``frames``, ``ratios``."""
    from ..engine.bench import machine_info
    from ..detectors import DEFAULT_DETECTOR, create_detector
    from ..models.profile import count_macs

    configs = list(configs or available_configs())
    unknown = set(configs) - set(available_configs())
    if unknown:
        raise UsageError(f"not available on this machine: {', '.join(sorted(unknown))}")
    say = progress or (lambda text: None)
    rows, frame_rows = [], []
    peaks = ({c: peak_conv_gmacs(c) for c in configs if CONFIGS[c][1] != "int8"}
             or {"torch fp32": peak_conv_gmacs("torch fp32")})
    best = max(peaks.values())
    detector = create_detector(DEFAULT_DETECTOR, device="cpu") if frames else None
    for model in models:
        for hw in input_sizes:
            macs = None
            for config in configs:
                say(f"{model} {hw[0]}x{hw[1]} {config}")
                est = estimator(model, hw, config)
                if macs is None:
                    macs = count_macs(est.model, hw)
                for batch in batches:
                    ms = network_ms(est, batch, repeats, warmup)
                    rows.append({"model": model, "input_size": f"{hw[0]}x{hw[1]}", "config": config, "batch": batch,
                                 "ms": round(ms, 3), "ms_per_crop": round(ms / batch, 3),
                                 "conv_floor_ms": round(macs * batch / (best * 1e9) * 1000, 3)})
                if frames and (config.startswith("openvino") or "openvino" not in configs and config == configs[-1]):
                    for persons in (1, 8):
                        stages = frame_ms(est, detector, persons, max(3, repeats // 2), 2)
                        frame_rows.append({"model": model, "input_size": f"{hw[0]}x{hw[1]}", "config": config,
                                           "persons": persons, **{k: round(v, 2) for k, v in stages.items()}})
    detector_text = None if detector is None else " ".join(
        str(v) for v in (detector.name, getattr(detector, "backend", None), getattr(detector, "precision", None)) if v)
    return {"machine": {**machine_info(), "detector": detector_text,
                        "peak_conv_gmacs": {c: round(v, 1) for c, v in peaks.items()}},
            "rows": rows, "frames": frame_rows, "ratios": ratios(rows, frame_rows)}


def ratios(rows: list[dict], frame_rows: list[dict]) -> dict:
    """``speedup`` (torch fp32 ms / row ms, per model, size, config, batch), ``hrgcnet_over_hrnet`` (per size,
    config, batch), ``frame_over_network`` (1 person's frame / the network at batch 2) and
    ``eight_over_one`` (frame with 8 persons / with 1)."""
    by = {(r["model"], r["input_size"], r["config"], r["batch"]): r["ms"] for r in rows}
    speedup, gc_ratio = {}, {}
    for (model, size, config, batch), ms in by.items():
        base = by.get((model, size, "torch fp32", batch))
        if base:
            speedup[f"{model} {size} {config} b{batch}"] = round(base / ms, 2)
        if model.startswith("hrgcnet-w32"):
            other = by.get(("hrnet-w32", size, config, batch))
            if other:
                gc_ratio[f"{size} {config} b{batch}"] = round(ms / other, 3)
    frame_over, eight_over = {}, {}
    frames = {(f["model"], f["input_size"], f["config"], f["persons"]): f["total"] for f in frame_rows}
    for (model, size, config, persons), total in frames.items():
        if persons == 1 and (model, size, config, 2) in by:
            frame_over[f"{model} {size} {config}"] = round(total / by[model, size, config, 2], 2)
        if persons == 8 and (model, size, config, 1) in frames:
            eight_over[f"{model} {size} {config}"] = round(total / frames[model, size, config, 1], 2)
    return {"speedup": speedup, "hrgcnet_over_hrnet": gc_ratio, "frame_over_network": frame_over,
            "eight_over_one": eight_over}
