"""Model names -> builders, and ``create_model`` with weight loading."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..errors import UsageError
from .hrgcnet import PRESETS, hrgcnet_w32, hrgcnet_w48, hrnet_w32, hrnet_w48
from .weights import default_weights_path, load_state_dict_strict, load_weights


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str  # UI label
    builder: Callable[[], nn.Module]
    family: str  # "hrnet" | "hrgcnet"
    width: int
    preset: str | None


MODELS: dict[str, ModelSpec] = {
    spec.name: spec for spec in (
        ModelSpec("hrnet-w32", "HRNet-W32", hrnet_w32, "hrnet", 32, None),
        ModelSpec("hrnet-w48", "HRNet-W48", hrnet_w48, "hrnet", 48, None),
        ModelSpec("hrgcnet-w32", "HRGCNet-W32", lambda: hrgcnet_w32("text"), "hrgcnet", 32, "text"),
        ModelSpec("hrgcnet-w48", "HRGCNet-W48", lambda: hrgcnet_w48("text"), "hrgcnet", 48, "text"),
        ModelSpec("hrgcnet-w32-table1", "HRGCNet-W32 (Table I)", lambda: hrgcnet_w32("table1"), "hrgcnet", 32, "table1"),
        ModelSpec("hrgcnet-w48-table1", "HRGCNet-W48 (Table I)", lambda: hrgcnet_w48("table1"), "hrgcnet", 48, "table1"),
    )
}


def list_models() -> list[str]:
    """All model names."""
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name]


def preset_description(name: str) -> str:
    spec = get_spec(name)
    return "official HRNet (no GC blocks)" if spec.preset is None else PRESETS[spec.preset].description


def create_model(name: str, weights: str | Path | None = None) -> nn.Module:
    """Build model ``name`` (see :func:`list_models`).

    Args:
        weights: None for a random init; ``"default"`` for the committed weights of that model (raises
            if there are none); or a path to a ``.safetensors``/``.pth`` file (official, mmpose or ours),
            loaded strictly.
    """
    model = get_spec(name).builder()
    if weights is None:
        return model
    if weights == "default":
        path = default_weights_path(name)
        if path is None:
            raise UsageError(f"no committed weights for {name!r}; pass weights=None for an untrained model")
    else:
        path = Path(weights)
    state_dict, meta = load_weights(path)
    arch = meta.get("model")
    if arch and arch != name:
        warnings.warn(f"{path.name} was saved for model {arch!r}, loading into {name!r}", stacklevel=2)
    load_state_dict_strict(model, state_dict, source=str(path))
    return model
