"""The OpenVINO backend: the pose network compiled by OpenVINO for the CPU.

The network is exported once per (network state, input size, OpenVINO version) as OpenVINO IR into
``$HRGCNET_CACHE/openvino`` (default ``~/.cache/hrgcnet/openvino``; :func:`cached_ir`) and compiled with
``INFERENCE_PRECISION_HINT`` f32 by default, bf16 on request (:func:`inference_precision` says why). A later
estimator of the same network reads the cached IR instead of exporting again (tens of seconds), and OpenVINO's
own cache of compiled blobs (``cache_dir()/compiled``) makes its compilation about 2 s (1.9 s measured here,
beside training; 10-13 s without it).
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UsageError
from .export import ATTENTION_PREFIX, WithAttention, export_metadata, export_openvino, network_digest


def cache_dir() -> Path:
    from ..models.download import cache_dir as hrgcnet_cache

    return hrgcnet_cache() / "openvino"


def cached_ir(model: nn.Module, model_name: str, input_hw: tuple[int, int],
              weights_meta: dict | None = None, metadata: dict | None = None, attention: bool = False
              ) -> tuple[Path, float | None]:
    """The cached IR of ``model`` at ``input_hw``, exported first when missing; ``metadata`` replaces the pose
    network's (:func:`~hrgcnet.backends.export.export_metadata`) for other networks. With ``attention``, the IR
    also outputs every GC block's α (:class:`~hrgcnet.backends.export.WithAttention`).

    Returns:
        ``(xml path, seconds the export took)``; None seconds when it was in the cache.
    """
    import openvino as ov

    version = ov.get_version().split("-")[0]
    kind = "-attn" if attention else ""
    name = f"{model_name}-{network_digest(model)}-{input_hw[0]}x{input_hw[1]}{kind}-ov{version}.xml"
    path = cache_dir() / name
    if path.is_file() and path.with_suffix(".bin").is_file():
        return path, None
    t0 = time.perf_counter()
    export_openvino(WithAttention(model) if attention else model, path, input_hw,
                    metadata if metadata is not None else export_metadata(model_name, input_hw, weights_meta))
    return path, time.perf_counter() - t0


def inference_precision(precision: str) -> str:
    """OpenVINO's precision hint for the estimator's ``precision``: ``auto`` and ``fp32`` are f32, ``bf16`` is bf16.

    ``auto`` is f32 because bf16 fails the accuracy guard with the committed weights (measured on an AMX Xeon,
    dev.json crops, against torch fp32, DARK decoding: 98.3-98.8% of keypoints within 1 input pixel where 99% are
    asked, 98.9-99.1% within 2, AP within 0.005; f32: 100% within 1 px); bf16 is about 3x faster where the CPU has it natively (docs/inference-speed.md).
    """
    if precision == "auto":
        return "f32"
    if precision in ("fp32", "bf16"):
        return {"fp32": "f32", "bf16": "bf16"}[precision]
    raise UsageError(f"the openvino backend runs fp32 or bf16, not {precision!r}")


@functools.lru_cache(maxsize=8)
def _compile(xml: str, precision: str, threads: int):
    """The compiled model, once per process (estimators of the same network share it, each with its own infer
    request); OpenVINO keeps the compiled blob in ``cache_dir()/compiled`` for the next process."""
    import openvino as ov

    core = ov.Core()
    core.set_property({"CACHE_DIR": str(cache_dir() / "compiled")})
    return core.compile_model(xml, "CPU", {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads,
                                           "PERFORMANCE_HINT": "LATENCY"})


class OpenVINONetwork:
    """``(B, 3, H, W)`` float32 normalised crops -> heatmaps ``(B, K, H/4, W/4)`` float32, by OpenVINO
    (:meth:`infer`: every output, for networks with several).

    Args:
        xml: OpenVINO IR of the network (:func:`cached_ir` or ``hrgcnet export --format openvino``).
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"`` (see :func:`inference_precision`).
        threads: CPU threads for inference (default: torch's intra-op threads).
    """

    name = "openvino"

    def __init__(self, xml: str | Path, precision: str = "auto", threads: int | None = None) -> None:
        self.precision = inference_precision(precision)
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


def compile_network(model: nn.Module, model_name: str, input_hw: tuple[int, int], precision: str = "auto",
                    weights_meta: dict | None = None) -> tuple[OpenVINONetwork, str]:
    """``model`` at ``input_hw`` as an :class:`OpenVINONetwork` (exported into the cache on first use), and a note
    on where it came from (exported now and how long it took, or read from the cache). A network with GC blocks
    also outputs their α (``attention_names``), so that attention maps need no second, torch, pass."""
    from ..models import gc_blocks

    xml, seconds = cached_ir(model, model_name, input_hw, weights_meta, attention=bool(gc_blocks(model)))
    net = OpenVINONetwork(xml, precision)
    h, w = input_hw
    how = (f"exported on first use in {seconds:.0f} s, cached in {xml.parent}" if seconds is not None
           else f"read from the cache {xml.parent}")
    return net, f"openvino ({net.precision}): {model_name} {h}x{w} {how}"
