"""The OpenVINO backend: the pose network compiled by OpenVINO for the CPU.

The network is exported once per (network state, input size, OpenVINO version) as OpenVINO IR into
``$HRGCNET_CACHE/openvino`` (default ``~/.cache/hrgcnet/openvino``; :func:`cached_ir`) and compiled with
``INFERENCE_PRECISION_HINT`` f32, bf16, or both: the stem in f32 and stages 1-4 in bf16 (the final layer in torch
fp32), the default where the CPU has native bf16 (:func:`inference_precision` says why; :class:`MixedNetwork`).
On request, int8: the IR quantized by NNCF (:mod:`hrgcnet.backends.int8`), cached beside the f32 one.
A later estimator of the same network reads the cached IR instead of exporting again (tens of seconds), and OpenVINO's
own cache of compiled blobs (``cache_dir()/compiled``) makes its compilation about 2 s (1.9 s measured here,
beside training; 10-13 s without it).
"""

from __future__ import annotations

import copy
import functools
import os
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UsageError
from .export import ATTENTION_PREFIX, NetworkPart, WithAttention, export_metadata, export_openvino, network_digest


def cache_dir() -> Path:
    from ..models.download import cache_dir as hrgcnet_cache

    return hrgcnet_cache() / "openvino"


def cached_ir(model: nn.Module, model_name: str, input_hw: tuple[int, int],
              weights_meta: dict | None = None, metadata: dict | None = None, attention: bool = False,
              part: str | None = None, int8: bool = False) -> tuple[Path, float | None]:
    """The cached IR of ``model`` at ``input_hw``, exported first when missing; ``metadata`` replaces the pose
    network's (:func:`~hrgcnet.backends.export.export_metadata`) for other networks. With ``attention``, the IR
    also outputs every GC block's α (:class:`~hrgcnet.backends.export.WithAttention`); with ``part``, it is that
    part of the network (:class:`~hrgcnet.backends.export.NetworkPart`); with ``int8``, the whole network
    quantized (:func:`~hrgcnet.backends.int8.quantize_ir`, from the f32 IR, itself cached).

    Returns:
        ``(xml path, seconds the export took)``; None seconds when it was in the cache.
    """
    import openvino as ov

    version = ov.get_version().split("-")[0]
    kind = ("-attn" if attention else "") + (f"-{part}" if part else "")
    if int8:
        from .int8 import RECIPE

        kind += f"-int8r{RECIPE}"
    name = f"{model_name}-{network_digest(model)}-{input_hw[0]}x{input_hw[1]}{kind}-ov{version}.xml"
    path = cache_dir() / name
    if path.is_file() and path.with_suffix(".bin").is_file():
        try:
            os.utime(path)  # its last use, for `hrgcnet cache --unused-for` (hrgcnet.backends.cache)
        except OSError:  # a read-only cache is still read
            pass
        return path, None
    t0 = time.perf_counter()
    if int8:
        from .int8 import calibration_crops, quantize_ir

        f32, _ = cached_ir(model, model_name, input_hw, weights_meta, metadata, attention)
        return quantize_ir(f32, path, calibration_crops(input_hw)), time.perf_counter() - t0
    net, shape = model, (input_hw, 3)
    if part is not None:
        net = NetworkPart(model, part)
        if part == "body":  # its input: the stem's output
            with torch.inference_mode():
                features = model.forward_stem(torch.zeros(1, 3, *input_hw, device=next(model.parameters()).device))
            shape = (tuple(features.shape[2:]), features.shape[1])
    meta = dict(metadata if metadata is not None else export_metadata(model_name, input_hw, weights_meta))
    if part is not None:
        meta["part"] = part
    export_openvino(WithAttention(net) if attention else net, path, shape[0], meta, channels=shape[1])
    return path, time.perf_counter() - t0


def inference_precision(precision: str, network: bool = True) -> str:
    """OpenVINO's precision for the estimator's ``precision``: ``fp32`` -> ``f32``, ``bf16`` -> ``bf16``, ``auto``
    -> ``mixed`` (the stem and the final layer in f32, stages 1-4 in bf16: :class:`MixedNetwork`) where the CPU has
    native bf16, else ``f32``; for a single graph (``network=False``, e.g. the detector) ``auto`` is ``bf16`` or
    ``f32`` the same way. ``int8`` -> ``int8`` (:mod:`hrgcnet.backends.int8`: never automatic, it misses the
    1-pixel guard).

    Why not bf16 throughout: against torch fp32 on the dev.json crops (DARK decoding) it puts 97.6-98.8% of the
    keypoints within 1 input pixel where the accuracy guard asks 99%. The misses come from the stem (its two
    convolutions read the image) and from the heatmaps' own rounding to bf16: with the stem and the final layer in
    f32, 99.42% / 99.39% (hrnet-w32 / hrgcnet-w32, committed weights, AMX Xeon); stage 1 in f32 as well gave
    99.45% / 99.60% there (99.39% / 99.51% on an AVX-512 EPYC) in 1.2x the time at 128x96 batch 2, up to 1.6x at
    batch 8 (docs/inference-speed.md). f32: 100%.
    """
    from . import cpu_supports_bf16

    if precision == "auto":
        return ("mixed" if network else "bf16") if cpu_supports_bf16() else "f32"
    hints = {"fp32": "f32", "bf16": "bf16", "int8": "int8"}
    if precision not in hints:
        raise UsageError(f"the openvino backend runs auto, fp32, bf16 or int8, not {precision!r}")
    return hints[precision]


@functools.lru_cache(maxsize=8)
def _compile(xml: str, precision: str, threads: int):
    """The compiled model, once per process (estimators of the same network share it, each with its own infer
    request); OpenVINO keeps the compiled blob in ``cache_dir()/compiled`` for the next process."""
    import openvino as ov

    core = ov.Core()
    core.set_property({"CACHE_DIR": str(cache_dir() / "compiled")})
    return core.compile_model(xml, "CPU", {"INFERENCE_PRECISION_HINT": _hint(precision),
                                           "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})


def _hint(precision: str) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` for an :func:`inference_precision`. A quantized IR (``int8``) runs
    int8 where NNCF put it; the rest of it (the GC blocks, the additions, the upsampling) runs in bf16 where the CPU
    has native bf16 and in f32 elsewhere. On an AMX Xeon the bf16 rest made int8 HRGCNet-W32 24% faster at 256x192
    (42 vs 55 ms, batch 2; HRNet-W32 4%) and kept the accuracy guard's numbers within 0.7 points
    (docs/inference-speed.md)."""
    if precision != "int8":
        return precision
    from . import cpu_supports_bf16

    return "bf16" if cpu_supports_bf16() else "f32"


class OpenVINONetwork:
    """``(B, 3, H, W)`` float32 normalised crops -> heatmaps ``(B, K, H/4, W/4)`` float32, by OpenVINO
    (:meth:`infer`: every output, for networks with several).

    Args:
        xml: OpenVINO IR of the network (:func:`cached_ir` or ``hrgcnet export --format openvino``).
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"`` for the whole graph (see :func:`inference_precision`);
            ``"int8"`` for an IR quantized by :func:`~hrgcnet.backends.int8.quantize_ir` (bf16 or f32 where it
            is not: :func:`_hint`).
        threads: CPU threads for inference (default: torch's intra-op threads).
    """

    name = "openvino"

    def __init__(self, xml: str | Path, precision: str = "auto", threads: int | None = None) -> None:
        self.precision = inference_precision(precision, network=False)
        self.threads = int(threads or torch.get_num_threads())
        self.compiled = _compile(str(xml), self.precision, self.threads)
        #: the GC blocks whose α the network outputs after its heatmaps (:func:`cached_ir` with ``attention``)
        self.attention_names = [name[len(ATTENTION_PREFIX):] for out in self.compiled.outputs[1:]
                                for name in out.get_names() if name.startswith(ATTENTION_PREFIX)]
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request: calls from several threads take turns

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.infer(x, first=1)[0])

    def infer(self, x: torch.Tensor, first: int | None = None) -> list[np.ndarray]:
        """Every output of the network for the input ``x`` (the ``first`` ones only), as float32 arrays (copies)."""
        data = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        with self._lock:
            outputs = self._request.infer({0: data})
            return [np.array(outputs[i], dtype=np.float32, copy=True) for i in range(first or len(outputs))]

    def __repr__(self) -> str:
        return f"OpenVINONetwork(precision={self.precision!r}, threads={self.threads})"


class MixedNetwork:
    """The pose network in three pieces: the stem compiled in f32, stages 1-4 compiled in bf16, and the final layer
    (a 1x1 convolution) in torch fp32, each piece's output the next one's input; the calls and outputs of
    :class:`OpenVINONetwork` (heatmaps, then every GC block's α).

    Why the final layer runs outside: compiled in bf16 it rounds the heatmaps to bf16 (8 significant bits), and
    the decoding's sub-pixel step (DARK's derivatives of the log-heatmap) and the argmax turn that rounding into
    keypoints that move: rounding torch fp32's dev.json heatmaps to bf16 alone moves 0.75% / 0.49% of the
    keypoints more than 1 input pixel (hrnet-w32 / hrgcnet-w32), rounding the features the final layer reads
    0.20% / 0.20% (docs/inference-speed.md). It costs a 32 -> 17 channel matrix product: 0.6 ms at 128x96 batch
    2, up to 10% of the network at batch 8 (AVX-512 EPYC, timed interleaved against the final layer in bf16).
    It also leaves branch 0's residual additions in f32: under the bf16 hint OpenVINO keeps every node between a
    graph's output and the last convolution, matrix product or interpolation before it in f32 (seen in the compiled
    body's ``get_runtime_model()``), which for the body is the chain of residual additions along branch 0, with the
    convolutions fused into them (33 convolutions and 8 additions of hrnet-w32, 39 additions of hrgcnet-w32). Ending
    the body in an identity 1x1 convolution puts them in bf16: 3-8% faster, but 99.22% of hrnet-w32's keypoints
    within 1 px of torch fp32 instead of 99.42% (AMX Xeon, docs/inference-speed.md), so the body ends as it is.

    Args:
        stem_xml, body_xml: the IRs of the two compiled parts (:class:`~hrgcnet.backends.export.NetworkPart`).
        head: the final layer, run in fp32 on the CPU.
        threads: CPU threads for inference (default: torch's intra-op threads).
    """

    name = "openvino"
    precision = "mixed"

    def __init__(self, stem_xml: str | Path, body_xml: str | Path, head: nn.Module, threads: int | None = None) -> None:
        self.stem = OpenVINONetwork(stem_xml, "fp32", threads)
        self.body = OpenVINONetwork(body_xml, "bf16", threads)
        self.head = head.to("cpu", torch.float32).eval()
        self.threads = self.stem.threads
        self.attention_names = self.body.attention_names

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.infer(x, first=1)[0])

    def infer(self, x: torch.Tensor, first: int | None = None) -> list[np.ndarray]:
        """Heatmaps, then every GC block's α (the ``first`` outputs only)."""
        features = self.stem.infer(x, first=1)[0]
        branch, *alpha = self.body.infer(torch.from_numpy(features), first=1 if first == 1 else None)
        with torch.inference_mode():
            heatmaps = self.head(torch.from_numpy(branch)).numpy()
        return [heatmaps, *alpha][:first]

    def __repr__(self) -> str:
        return f"MixedNetwork(stem f32, stages 1-4 bf16, final layer fp32, threads={self.threads})"


def compile_network(model: nn.Module, model_name: str, input_hw: tuple[int, int], precision: str = "auto",
                    weights_meta: dict | None = None) -> tuple[OpenVINONetwork | MixedNetwork, str]:
    """``model`` at ``input_hw`` compiled for ``precision`` (:func:`inference_precision`; ``mixed``: a
    :class:`MixedNetwork`), exported into the cache on first use, and a note on where it came from (exported now
    and how long it took, or read from the cache). A network with GC blocks also outputs their α
    (``attention_names``), so that attention maps need no second, torch, pass."""
    from ..models import gc_blocks

    attention = bool(gc_blocks(model))
    if inference_precision(precision) == "mixed":
        (xml, first), (xml_2, second) = (cached_ir(model, model_name, input_hw, weights_meta, attention=attention,
                                                   part=part) for part in NetworkPart.PARTS)
        head = copy.deepcopy(model.final_layer)
        net, label = MixedNetwork(xml, xml_2, head), "bf16, the stem and the final layer in f32"
        seconds = None if first is None and second is None else (first or 0) + (second or 0)
    else:
        xml, seconds = cached_ir(model, model_name, input_hw, weights_meta, attention=attention,
                                 int8=precision == "int8")
        net = OpenVINONetwork(xml, precision)
        label = net.precision
    h, w = input_hw
    how = (f"exported on first use in {seconds:.0f} s, cached in {xml.parent}" if seconds is not None
           else f"read from the cache {xml.parent}")
    return net, f"openvino ({label}): {model_name} {h}x{w} {how}"
