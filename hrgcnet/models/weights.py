"""Safe checkpoint I/O: safetensors with metadata, official/mmpose key conversion, strict loading with a
report of missing / unexpected / mis-shaped keys, and HRGCNet initialisation from HRNet weights.

Pickled checkpoints (``.pth``) are only read with ``torch.load(weights_only=True)``: a pickle that would
run code is refused.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import WeightsError
from ..jsonfile import atomic_path

#: Where committed default weights live: ``<model name>.safetensors`` + README.md (model card).
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

StateDict = dict[str, torch.Tensor]


def default_weights_path(model_name: str) -> Path | None:
    """The committed weights of ``model_name``, or None when there are none."""
    path = WEIGHTS_DIR / f"{model_name}.safetensors"
    return path if path.is_file() else None


#: Key suffix of the per-output-channel scales of an int8 weight (``<key>`` holds the int8 values).
INT8_SCALE_SUFFIX = ".__int8_scale__"


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8: ``weight (O, ...)`` -> ``(q int8 (O, ...), scale float32 (O,))`` with
    ``weight ≈ q * scale`` (error at most ``scale / 2`` per element)."""
    w = weight.detach().float()
    scale = w.reshape(w.shape[0], -1).abs().amax(dim=1).clamp_min(1e-12) / 127.0
    q = torch.round(w / scale.view(-1, *([1] * (w.dim() - 1)))).clamp_(-127, 127).to(torch.int8)
    return q, scale


def dequantize_int8(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """A state dict with every ``<key>`` + ``<key>`` :data:`INT8_SCALE_SUFFIX` pair turned back into float32."""
    out: StateDict = {}
    for key, value in state_dict.items():
        if key.endswith(INT8_SCALE_SUFFIX):
            continue
        scale = state_dict.get(key + INT8_SCALE_SUFFIX)
        if scale is not None:
            value = value.float() * scale.float().view(-1, *([1] * (value.dim() - 1)))
        out[key] = value
    return out


def save_weights(model: nn.Module | Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping | None = None,
                 dtype: torch.dtype | None = torch.float16) -> Path:
    """Save a state dict as safetensors; floating tensors cast to ``dtype`` (None keeps them).

    ``dtype=torch.int8``: weights of 2 or more dimensions (conv, linear) are stored as symmetric per-output-channel
    int8 with a float32 scale each (:func:`quantize_int8`, half the size of fp16), every other floating tensor as
    fp16; :func:`load_weights` turns them back into float32. ``metadata`` values are stored as JSON strings
    (safetensors metadata is ``str -> str``). The file is written atomically (a temporary file, then
    ``os.replace``): an interrupted save leaves any previous file at ``path`` intact and never a truncated one.
    """
    sd = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    tensors: StateDict = {}
    for k, v in sd.items():
        v = v.detach().cpu()
        if dtype == torch.int8 and v.is_floating_point() and v.dim() >= 2:
            tensors[k], tensors[k + INT8_SCALE_SUFFIX] = quantize_int8(v)
        elif v.is_floating_point() and dtype is not None:
            tensors[k] = v.to(torch.float16 if dtype == torch.int8 else dtype)
        else:
            tensors[k] = v
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    meta = {str(k): json.dumps(v) for k, v in (metadata or {}).items()}
    if dtype == torch.int8:
        meta["weights_format"] = json.dumps("int8 per output channel (conv/linear), fp16 otherwise")
    path = Path(path)
    with atomic_path(path) as tmp:  # a killed or failed write never leaves a truncated file at ``path``
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_metadata(path: str | Path) -> dict:
    """The JSON-decoded metadata of a safetensors file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read safetensors file {path}: {exc}") from exc
    return {k: _json_or_str(v) for k, v in raw.items()}


def _json_or_str(value: str):
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def load_weights(path: str | Path) -> tuple[StateDict, dict]:
    """Read ``path`` safely and return ``(state_dict, metadata)`` with keys in our (official HRNet) naming.

    ``.safetensors`` files are read with safetensors; anything else with ``torch.load(weights_only=True)``
    (mmpose/official checkpoints, our training checkpoints). Raises :class:`WeightsError` for missing,
    truncated, unsafe or unrecognised files.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file is empty: {path}")
    if path.suffix == ".safetensors":
        try:
            sd = load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise WeightsError(f"cannot read safetensors file {path} (truncated or not safetensors?): {exc}") from exc
        return dequantize_int8(sd), read_metadata(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04" and not magic.startswith(b"\x80"):  # torch's zip format, or a legacy pickle
        raise WeightsError(f"{path} is not a torch checkpoint (neither safetensors, zip nor pickle)")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(f"refused to load {path}: it is not a plain-tensor checkpoint (a pickle that would "
                           f"run code or build objects is never unpickled). Details: {str(exc).splitlines()[0]}") from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read checkpoint {path} (truncated or not a torch checkpoint?): {exc}") from exc
    meta = dict(obj.get("meta") or {}) if isinstance(obj, Mapping) and isinstance(obj.get("meta"), Mapping) else {}
    return convert_state_dict(obj), meta


def convert_state_dict(obj: Mapping) -> StateDict:
    """Unwrap a checkpoint and map its keys to the official HRNet naming.

    Handles a bare state dict, ``{"state_dict"|"model": ...}`` wrappers, DDP ``module.`` prefixes and
    mmpose names (``backbone.*``, ``head.final_layer.*`` in 1.x, ``keypoint_head.final_layer.*`` in 0.x).
    """
    if not isinstance(obj, Mapping):
        raise WeightsError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    for key in ("state_dict", "model"):
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    out: StateDict = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"checkpoint entry {key!r} is a {type(value).__name__}, not a tensor")
        for prefix, repl in (("module.", ""), ("backbone.", ""), ("head.final_layer.", "final_layer."),
                             ("keypoint_head.final_layer.", "final_layer.")):
            if key.startswith(prefix):
                key = repl + key[len(prefix):]
        out[key] = value
    return out


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str], list[str]]:
    """Compare a state dict with the model's: ``(missing, unexpected, mis-shaped)`` key lists."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shaped = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    return missing, unexpected, shaped


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load every tensor of ``state_dict`` into ``model`` or raise :class:`WeightsError` naming the mismatches.

    Tensors are cast to the dtype of the model's own tensors (fp16 files load into fp32 models).
    """
    missing, unexpected, shaped = check_state_dict(model, state_dict)
    if missing or unexpected or shaped:
        def show(title: str, keys: list[str]) -> str:
            if not keys:
                return ""
            more = f" ... and {len(keys) - 8} more" if len(keys) > 8 else ""
            return f"\n  {title} ({len(keys)}): " + ", ".join(keys[:8]) + more

        raise WeightsError(f"{source} does not match the model (wrong architecture?):"
                           + show("missing keys", missing) + show("unexpected keys", unexpected)
                           + show("mis-shaped keys", shaped))
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state_dict.items()}, strict=True)


@dataclass
class InitReport:
    """What :func:`init_from_hrnet` did: keys copied, new in the model, and skipped from the source."""

    copied: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        def groups(keys: list[str]) -> str:
            kinds = sorted({k.rsplit(".", 1)[0].split(".gc.")[0] + (".gc" if ".gc." in k else "") for k in keys})
            head = ", ".join(kinds[:6])
            return head + (f" ... ({len(kinds)} modules)" if len(kinds) > 6 else "")

        def part(label: str, keys: list[str], why: str) -> str:
            return f"; {label} {len(keys)}" + (f" ({why}: {groups(keys)})" if keys else "")

        return (f"copied {len(self.copied)} tensors" + part("new", self.new, "not in the source")
                + part("skipped", self.skipped, "not usable"))


def init_from_hrnet(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> InitReport:
    """Initialise ``model`` (e.g. an HRGCNet) from HRNet weights: copy every tensor with the same name and shape.

    GC blocks and depthwise-separable convs are new (keep their init); source tensors without a same-shaped
    counterpart (e.g. the dense 3x3 ``conv2`` of the stage-1 bottlenecks) are skipped.
    """
    own = model.state_dict()
    report = InitReport()
    to_load = {}
    for key, value in state_dict.items():
        if key in own and own[key].shape == value.shape:
            to_load[key] = value.to(own[key].dtype)
            report.copied.append(key)
        else:
            report.skipped.append(key)
    report.new = [k for k in own if k not in to_load]
    model.load_state_dict(to_load, strict=False)
    return report
