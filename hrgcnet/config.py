"""Training configuration: one dataclass, YAML load/save and ``--set key=value`` overrides.

A run is fully described by its ``config.yaml`` (written into every run directory), so
``hrgcnet train --config runs/x/config.yaml`` repeats it and ``--resume runs/x`` continues it.

Paths in a config (``train_data[].ann``, ``val_ann``, ``init_from``) are relative to the working directory
(normally the repository root, where ``../shared/data`` is the shared data folder).

Overrides use dotted keys and YAML values: ``lr=2e-3``, ``augment.flip_prob=0``, ``lr_steps=[20,25]``,
``train_data.1.weight=0.5``, ``val_ann=null``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data.augment import AugmentConfig
from .data.coco import DataSpec
from .errors import UsageError

#: Bundled configs (``hrgcnet train --config NAME``).
CONFIGS_DIR = Path(__file__).resolve().parent / "configs"


def _default_train_data() -> list[DataSpec]:
    return [DataSpec(ann="../shared/data/coco/train.json")]


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults: the paper / official HRNet-W32 256x192 recipe.

    Model: ``model`` name (see ``hrgcnet models``); ``init_from`` an HRNet checkpoint to initialise an
    HRGCNet from (copies every same-named, same-shaped tensor).
    Data: ``train_data`` files mixed by ``weight``; ``samples_per_epoch`` (default: all persons once);
    ``cache_images`` decodes every image once before training (``cache_max_side`` shrinks them).
    Targets: ``input_size`` "HxW", Gaussian ``sigma`` in heatmap pixels, ``unbiased`` (DARK) encoding.
    Validation: COCO AP on ``val_ann`` with ground-truth boxes every ``val_every`` epochs (0: only at the
    end; ``val_ann: null``: never); ``val_max_images`` limits it; ``val_subsets`` are annotation files whose
    images are all in ``val_ann`` (e.g. val.json inside dev.json), each scored from the same predictions;
    ``val_keep_weights`` writes the validated weights of every validation next to ``best.safetensors``.
    Optimisation: Adam ``lr``; ``lr_schedule`` ``"multistep"`` (x ``lr_factor`` at the epochs in
    ``lr_steps``) or ``"cosine"`` (to ``lr * cosine_final_factor`` at the end); linear warm-up over
    ``warmup_steps``; ``anneal_epochs`` > 0 multiplies the rate of the schedule's last ``anneal_epochs`` epochs
    by a cosine from 1 to ``cosine_final_factor`` (a constant rate annealed at its end); ``batch_size`` per process; ``ema_decay`` > 0 keeps an exponential moving average of the
    weights (:mod:`hrgcnet.engine.ema`), which validation and ``best.safetensors`` then use (with ``lr_steps: []``, a
    constant rate whose average can be exported at any step).
    Speed: ``amp`` ``"auto"`` (bf16 on CPUs with avx512_bf16/amx_bf16 and on CUDA with bf16, else fp16
    on CUDA, else off), ``"bf16"``, ``"fp16"`` (CUDA only) or ``"off"``; ``channels_last``; ``workers``
    DataLoader processes (each limited to one thread).
    Run control: ``checkpoint_minutes`` between ``last.pt`` saves; ``max_minutes`` stops cleanly with a
    checkpoint; ``stop_after_steps`` stops after that many optimiser steps without changing the schedule.
    """

    model: str = "hrgcnet-w32"
    init_from: str | None = None
    input_size: str = "256x192"
    sigma: float = 2.0
    unbiased: bool = False
    train_data: list[DataSpec] = field(default_factory=_default_train_data)
    samples_per_epoch: int | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    cache_images: bool = False
    cache_max_side: int | None = None
    val_ann: str | None = "../shared/data/coco/val.json"
    val_images: str | None = None
    val_every: int = 10
    val_flip: bool = True
    val_max_images: int | None = None
    val_subsets: list[str] = field(default_factory=list)
    val_keep_weights: bool = False
    batch_size: int = 32
    workers: int = 2
    epochs: int = 210
    lr: float = 1e-3
    lr_schedule: str = "multistep"
    lr_steps: list[int] = field(default_factory=lambda: [170, 200])
    lr_factor: float = 0.1
    cosine_final_factor: float = 0.01
    warmup_steps: int = 0
    anneal_epochs: int = 0
    weight_decay: float = 0.0
    ema_decay: float = 0.0
    amp: str = "auto"
    channels_last: bool = True
    sync_bn: bool = False
    device: str = "auto"
    seed: int = 0
    checkpoint_minutes: float = 30.0
    max_minutes: float | None = None
    stop_after_steps: int | None = None
    log_every: int = 20
    progress: bool = True

    def __post_init__(self) -> None:
        self.validate()

    @property
    def input_hw(self) -> tuple[int, int]:
        return parse_input_size(self.input_size)

    def validate(self) -> None:
        """Raise :class:`UsageError` for values that cannot work."""
        parse_input_size(self.input_size)
        if self.lr_schedule not in ("multistep", "cosine"):
            raise UsageError(f"lr_schedule must be 'multistep' or 'cosine', got {self.lr_schedule!r}")
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise UsageError(f"amp must be 'auto', 'bf16', 'fp16' or 'off', got {self.amp!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UsageError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0 <= self.anneal_epochs <= self.epochs:
            raise UsageError(f"anneal_epochs must be in [0, epochs = {self.epochs}], got {self.anneal_epochs}")
        if self.batch_size < 1 or self.epochs < 1 or self.workers < 0:
            raise UsageError("batch_size and epochs must be >= 1 and workers >= 0")
        if not self.train_data:
            raise UsageError("train_data needs at least one annotation file")
        if sorted(self.lr_steps) != list(self.lr_steps):
            raise UsageError(f"lr_steps must be increasing, got {self.lr_steps}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Build from plain data; unknown keys and wrong types raise :class:`UsageError`."""
        return _build(cls, data, "config")


def parse_input_size(text: str | tuple | list) -> tuple[int, int]:
    """``"256x192"`` -> ``(256, 192)`` (H, W); both multiples of 32."""
    try:
        if isinstance(text, str):
            h, w = (int(v) for v in text.lower().split("x"))
        else:
            h, w = (int(v) for v in text)
    except (ValueError, TypeError):
        raise UsageError(f"input size must look like 256x192 (H x W), got {text!r}") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise UsageError(f"input size {h}x{w}: height and width must be positive multiples of 32")
    return h, w


def load_config(path_or_name: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """A config from a YAML file or a bundled name (e.g. ``"hrgcnet_w32_256x192"``), then overrides."""
    data: dict = {}
    if path_or_name is not None:
        path = resolve_config_path(path_or_name)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UsageError(f"config {path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise UsageError(f"config {path} must be a mapping of keys to values")
    for item in overrides or []:
        key, value = parse_override(item)
        _set_path(data, key, value)
    return TrainConfig.from_dict(data)


def resolve_config_path(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if path.is_file():
        return path
    bundled = CONFIGS_DIR / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if bundled.is_file():
        return bundled
    names = ", ".join(sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml")))
    raise UsageError(f"config not found: {path_or_name} (bundled configs: {names})")


def save_config(config: TrainConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """A new config with ``key=value`` overrides applied to ``config``."""
    data = config.to_dict()
    for item in overrides:
        key, value = parse_override(item)
        _set_path(data, key, value)
    return TrainConfig.from_dict(data)


def parse_override(item: str) -> tuple[str, object]:
    if "=" not in item:
        raise UsageError(f"override must be key=value, got {item!r}")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def _set_path(data: dict, key: str, value: object) -> None:
    parts = key.split(".")
    node: object = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, key)]
            continue
        if part not in node:
            if part == "augment":
                node[part] = {}
            elif part == "train_data":
                node[part] = [dataclasses.asdict(d) for d in _default_train_data()]
            else:
                raise UsageError(f"unknown config key {'.'.join(parts[:i + 1])!r} in override {key!r}")
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, key)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise UsageError(f"cannot set {key!r}: its parent is not a mapping")


def _list_index(node: list, part: str, key: str) -> int:
    try:
        index = int(part)
        node[index]
    except (ValueError, IndexError):
        raise UsageError(f"bad list index {part!r} in override {key!r} (list has {len(node)} items)") from None
    return index


def _field_types(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def _build(cls: type, data: object, where: str):
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a mapping, got {data!r}")
    hints = _field_types(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise UsageError(f"unknown key(s) in {where}: {', '.join(unknown)} (known: {', '.join(hints)})")
    kwargs = {name: _coerce(value, hints[name], f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise UsageError(f"{where}: {exc}") from exc
    except UsageError:
        raise
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from exc


def _coerce(value: object, tp: object, where: str) -> object:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return _coerce(value, a, where)
            except UsageError as exc:
                errors.append(str(exc))
        raise UsageError(errors[0])
    if origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise UsageError(f"{where} must be a list, got {value!r}")
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UsageError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UsageError(f"{where} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise UsageError(f"{where} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UsageError(f"{where} must be a string, got {value!r}")
    return value
