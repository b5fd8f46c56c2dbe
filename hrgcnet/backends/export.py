"""Export a pose network to ONNX and OpenVINO IR, with the weights' metadata in the file.

Both formats take the normalised crop ``(B, 3, H, W)`` float32 (RGB, ``(x - mean) / std`` with
:data:`~hrgcnet.structures.IMAGENET_MEAN`/``STD`` times 255, as the estimator feeds the network) and return
heatmaps ``(B, 17, H/4, W/4)``; the batch is dynamic. The ONNX export (TorchScript exporter, opset 17, eval
mode) folds every BatchNorm into its convolution. Metadata (ONNX ``metadata_props``; OpenVINO ``rt_info`` under
``hrgcnet``) holds the model name, input size, normalisation and the weights' own metadata (training summary).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError
from ..structures import IMAGENET_MEAN, IMAGENET_STD

OPSET = 17
INPUT_NAME, OUTPUT_NAME = "crops", "heatmaps"
ATTENTION_PREFIX = "alpha."
#: the folder an OpenVINO export is written in before its files are renamed into place (left behind if killed)
PARTIAL_PREFIX = ".export-"


def export_metadata(model_name: str, input_hw: tuple[int, int], weights_meta: Mapping | None = None) -> dict[str, str]:
    """String metadata of an exported network: what it is and how to feed it."""
    meta = {
        "model": model_name, "input_size": f"{input_hw[0]}x{input_hw[1]}",
        "input": "crops (B, 3, H, W) float32, RGB, (x - mean) / std, x in 0..255",
        "mean": json.dumps([round(255 * m, 4) for m in IMAGENET_MEAN]),
        "std": json.dumps([round(255 * s, 4) for s in IMAGENET_STD]),
        "output": "heatmaps (B, 17, H/4, W/4), COCO keypoint order",
    }
    for key, value in (weights_meta or {}).items():
        meta.setdefault(f"weights.{key}", value if isinstance(value, str) else json.dumps(value))
    return meta


def network_digest(model: nn.Module) -> str:
    """A short hash of the network's state (names, shapes and values): the export cache's key."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class WithAttention(nn.Module):
    """A GC network that also returns every GC block's attention: ``(heatmaps, α_1, ..., α_n)``, each α
    ``(B, h_b, w_b)`` (sums to 1 over the block's positions), in :func:`~hrgcnet.models.gc_blocks` order. Exported,
    the α outputs are named ``alpha.<block name>`` (:func:`attention_output_names`), so that a compiled network
    gives the app's attention maps from the same forward as the heatmaps."""

    def __init__(self, net: nn.Module) -> None:
        from ..models import gc_blocks

        super().__init__()
        self.net = net
        names = getattr(net, "block_names", None)  # a NetworkPart's own, possibly none
        self.block_names = list(gc_blocks(net) if names is None else names)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        from ..models import capture_gc_attention

        with capture_gc_attention(self.net) as maps:
            heatmaps = self.net(x)
        return (heatmaps, *(maps[name] for name in self.block_names))


class NetworkPart(nn.Module):
    """One part of a pose network, for an export in two precisions: ``"stem"`` (crops -> the stem's features
    ``(B, 64, H/4, W/4)``) or ``"body"`` (stages 1-4: those features -> the highest-resolution branch's
    ``(B, C, H/4, W/4)``, which the final layer, left out, turns into heatmaps); ``block_names`` are the GC blocks
    the part runs (all of them in the body)."""

    PARTS = ("stem", "body")

    def __init__(self, net: nn.Module, part: str) -> None:
        from ..models import gc_blocks

        if part not in self.PARTS:
            raise UsageError(f"part must be one of {self.PARTS}, got {part!r}")
        super().__init__()
        self.net = net
        self.part = part
        in_stem = set(gc_blocks(nn.ModuleList(getattr(net, m) for m in net.STEM_MODULES)))
        self.block_names = [name for name in gc_blocks(net) if (name in in_stem) == (part == "stem")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_stem(x) if self.part == "stem" else self.net.forward_body(x)


def attention_output_names(block_names: list[str]) -> list[str]:
    return [f"{ATTENTION_PREFIX}{name}" for name in block_names]


def export_onnx(model: nn.Module, path: str | Path, input_hw: tuple[int, int],
                metadata: Mapping[str, str] | None = None, channels: int = 3) -> Path:
    """Write ``model`` (a CPU fp32 copy in eval mode; the model itself is left as it is) as ONNX to ``path``
    (atomically); returns ``path``. A :class:`WithAttention` network gets its α outputs named as well.

    Raises:
        UsageError: the ``onnx`` package is missing.
    """
    try:
        import onnx
    except ImportError as exc:
        raise UsageError("ONNX export needs the onnx package: pip install onnx") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).to("cpu", torch.float32, memory_format=torch.contiguous_format).eval()
    example = torch.zeros(1, channels, *input_hw)
    outputs = [OUTPUT_NAME] + (attention_output_names(model.block_names) if isinstance(model, WithAttention) else [])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer warnings
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), str(tmp),
                              dynamo=False, opset_version=OPSET, do_constant_folding=True,
                              input_names=[INPUT_NAME], output_names=outputs,
                              dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *outputs]})
        proto = onnx.load(str(tmp))
        for key, value in (metadata or {}).items():
            proto.metadata_props.add(key=key, value=str(value))
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def onnx_metadata(path: str | Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def export_openvino(model: nn.Module, path: str | Path, input_hw: tuple[int, int],
                    metadata: Mapping[str, str] | None = None, channels: int = 3) -> Path:
    """Write ``model`` as OpenVINO IR (``path`` = ``NAME.xml`` with ``NAME.bin`` beside it, fp32) through its
    ONNX export; returns ``path``. The two files appear together (written under temporary names first)."""
    import openvino as ov

    path = Path(path)
    if path.suffix != ".xml":
        raise UsageError(f"an OpenVINO IR path ends in .xml, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=PARTIAL_PREFIX) as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx", input_hw, channels=channels)
        ov_model = ov.Core().read_model(str(onnx_path))
        for key, value in (metadata or {}).items():
            ov_model.set_rt_info(str(value), ["hrgcnet", key])
        tmp_xml = Path(tmp) / path.name
        ov.save_model(ov_model, str(tmp_xml), compress_to_fp16=False)
        os.replace(tmp_xml.with_suffix(".bin"), path.with_suffix(".bin"))
        os.replace(tmp_xml, path)
    return path


def openvino_metadata(path: str | Path) -> dict[str, str]:
    import openvino as ov

    info = ov.Core().read_model(str(path)).get_rt_info()
    if "hrgcnet" not in info:
        return {}
    return {key: value.astype(str) for key, value in dict(info["hrgcnet"]).items()}
