"""Training throughput on this machine: ms per sample of a training step, model only and end to end.

Two measurements (results and analysis: ``docs/training-speed.md``):

* **model only** (:func:`bench_synthetic`): :class:`TrainStep` -- the training loop's step (ImageNet
  normalisation of the uint8 batch, forward under autocast, ``JointsMSELoss`` in fp32, ``zero_grad``, backward,
  Adam) -- on one fixed synthetic batch. What the model and optimiser cost, without data loading.
* **end to end** (:func:`bench_loader`): a :class:`hrgcnet.engine.train.Trainer` built from a training config (the real
  data of ``../shared/data``, the training augmentation, its DataLoader workers and image cache) running its own
  ``train_step``. Also reports the fraction of the time the step waited for its batch, and the CPU cost of
  preparing one sample.

Timing: ``warmup`` untimed steps (the first one compiles with ``compile=True``), then ``windows`` timed windows of
``steps`` steps each. A window's ms/sample is its wall time over its samples; results give the median, min and max
over the windows and the spread ``(max - min) / median``, the CPU time of this process per sample (with one
thread, the number other processes on a shared machine inflate least; with two, it includes threads waiting for
each other) and the load average before and after, because on a shared 2-core machine every number needs the load
beside it. :func:`profile_step` says where a step's time goes and :func:`conv_floor` what its convolutions alone
cost.

Precisions: ``fp32`` (no autocast) and ``bf16`` (``torch.autocast`` with fp32 master weights, as training does).
The plain eager fp32 NCHW configuration is :data:`BASELINE`.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError

#: Precisions and their autocast dtype (None: plain fp32).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}

#: ``progress(done, total, text)`` after each warm-up step and each timed window.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class StepOptions:
    """How a training step runs.

    Args:
        precision: ``"fp32"`` or ``"bf16"`` (autocast, fp32 master weights).
        channels_last: model and input in channels_last memory format.
        compile: ``torch.compile`` the model (inductor; kernels cached, see :func:`compile_model`).
        threads: intra-op threads (``torch.set_num_threads``) while measuring; None keeps torch's setting.
    """

    precision: str = "bf16"
    channels_last: bool = True
    compile: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"threads must be >= 1, got {self.threads}")

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return PRECISIONS[self.precision]

    @property
    def label(self) -> str:
        """``"bf16 channels_last compiled"`` etc."""
        parts = [self.precision, "channels_last" if self.channels_last else "NCHW", "compiled" if self.compile else "eager"]
        return " ".join(parts)


#: The plain eager fp32 NCHW configuration the optimised one is compared with.
BASELINE = StepOptions(precision="fp32", channels_last=False, compile=False)


@dataclass
class BenchResult:
    """One measurement. ``window_ms_per_sample`` and ``window_cpu_ms_per_sample`` have one entry per timed window.

    ``data_wait_fraction`` (end to end only): time spent waiting for batches / wall time of the timed windows.
    ``data_cpu_ms_per_sample`` (end to end only): CPU time to load, augment and encode one sample in one thread.
    ``warmup_s``: wall time of the warm-up steps (includes compiling). ``load_before``/``load_after``: the 1, 5 and
    15 minute load averages.
    """

    mode: str  # "synthetic" | "loader"
    model: str
    input_size: str
    batch: int
    precision: str
    channels_last: bool
    compile: bool
    threads: int
    window_ms_per_sample: list[float]
    window_cpu_ms_per_sample: list[float]
    warmup_s: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    workers: int | None = None
    cache_images: bool | None = None
    data_wait_fraction: float | None = None
    data_cpu_ms_per_sample: float | None = None
    steps_per_window: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def median_ms_per_sample(self) -> float:
        return statistics.median(self.window_ms_per_sample)

    @property
    def min_ms_per_sample(self) -> float:
        return min(self.window_ms_per_sample)

    @property
    def max_ms_per_sample(self) -> float:
        return max(self.window_ms_per_sample)

    @property
    def spread(self) -> float:
        """``(max - min) / median`` over the windows."""
        return (self.max_ms_per_sample - self.min_ms_per_sample) / self.median_ms_per_sample

    @property
    def samples_per_s(self) -> float:
        """From the median window."""
        return 1000.0 / self.median_ms_per_sample

    @property
    def cpu_ms_per_sample(self) -> float:
        """Median over windows of this process's CPU time (all its threads) per sample."""
        return statistics.median(self.window_cpu_ms_per_sample)

    @property
    def label(self) -> str:
        return StepOptions(self.precision, self.channels_last, self.compile).label

    def to_dict(self) -> dict:
        """Plain data with the derived numbers (for ``--json``)."""
        out = asdict(self)
        out.update(label=self.label, median_ms_per_sample=self.median_ms_per_sample,
                   min_ms_per_sample=self.min_ms_per_sample, max_ms_per_sample=self.max_ms_per_sample,
                   spread=self.spread, samples_per_s=self.samples_per_s, cpu_ms_per_sample=self.cpu_ms_per_sample)
        return out


# ------------------------------------------------------------------------------------------------- the step

def compile_cache_dir() -> Path:
    """Where :func:`compile_model` keeps compiled kernels: ``$TORCHINDUCTOR_CACHE_DIR`` if set, else
    ``$HRGCNET_CACHE/inductor`` (default ``~/.cache/hrgcnet/inductor``)."""
    from ..models.download import cache_dir

    return Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or cache_dir() / "inductor")


def compile_model(model: nn.Module, cache_dir: str | Path | None = None) -> nn.Module:
    """``torch.compile(model)`` (inductor) with its kernel cache in ``cache_dir`` (default :func:`compile_cache_dir`).

    The FX-graph and AOTAutograd caches (on by default) live under ``TORCHINDUCTOR_CACHE_DIR``, which this sets, so
    that a later run of the same model, input size and options loads the compiled step (seconds) instead of
    compiling it again (minutes). The default inductor location, under ``/tmp``, does not survive a reboot.
    """
    path = Path(cache_dir) if cache_dir is not None else compile_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    return torch.compile(model)


class TrainStep:
    """One optimiser step of the training loop (:meth:`hrgcnet.engine.train.Trainer.train_step`) on the CPU.

    Args:
        model: the network (put in train mode; moved to channels_last if ``options.channels_last``).
        options: precision, memory format, compile.
        lr: Adam learning rate (the optimiser is the training loop's :func:`hrgcnet.engine.train.make_optimizer`).

    Call with a batch ``{"image": (N, 3, H, W) uint8 RGB, "heatmaps": (N, K, H/4, W/4) float32,
    "target_weight": (N, K) float32}``; returns the detached loss.
    """

    def __init__(self, model: nn.Module, options: StepOptions, lr: float = 1e-3) -> None:
        from ..models.losses import JointsMSELoss
        from .train import make_optimizer

        self.options = options
        self.model = model.train()
        if options.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.forward = compile_model(self.model) if options.compile else self.model
        self.optimizer = make_optimizer(self.model.parameters(), lr, 0.0, torch.device("cpu"))
        self.criterion = JointsMSELoss(use_target_weight=True)

    def __call__(self, batch: dict) -> torch.Tensor:
        from ..data import normalize_images

        images = batch["image"]
        if self.options.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        images = normalize_images(images)
        dtype = self.options.amp_dtype
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            heatmaps = self.forward(images)
        loss = self.criterion(heatmaps, batch["heatmaps"], batch["target_weight"])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def synthetic_batch(batch: int, input_hw: tuple[int, int], num_keypoints: int = 17, seed: int = 0) -> dict:
    """A training batch of random content and the right shapes and dtypes (see :class:`TrainStep`)."""
    g = torch.Generator().manual_seed(seed)
    h, w = input_hw
    return {
        "image": torch.randint(0, 256, (batch, 3, h, w), generator=g, dtype=torch.uint8),
        "heatmaps": torch.rand(batch, num_keypoints, h // 4, w // 4, generator=g),
        "target_weight": torch.ones(batch, num_keypoints),
    }


# ------------------------------------------------------------------------------------------------ timing

def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages (zeros where the OS has none)."""
    try:
        return tuple(round(v, 2) for v in os.getloadavg())  # type: ignore[return-value]
    except OSError:
        return (0.0, 0.0, 0.0)


@contextmanager
def num_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` intra-op threads (None: unchanged); yields the number in use."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _check_counts(warmup: int, windows: int, steps: int) -> None:
    if warmup < 1 or windows < 1 or steps < 1:
        raise UsageError(f"warmup, windows and steps must be >= 1, got {warmup}, {windows}, {steps}")


def _check_input(input_hw: tuple[int, int], batch: int) -> None:
    if len(input_hw) != 2 or min(input_hw) <= 0 or input_hw[0] % 32 or input_hw[1] % 32:
        raise UsageError(f"input size must be positive multiples of 32 (HxW), got {tuple(input_hw)}")
    if batch < 1:
        raise UsageError(f"batch must be >= 1, got {batch}")


def _timed_windows(step: Callable[[], float], batch: int, warmup: int, windows: int, steps: int,
                   progress: Progress | None, what: str) -> tuple[float, list[float], list[float], float, float]:
    """Run ``step`` (returns seconds waited for data) ``warmup`` + ``windows * steps`` times.

    Returns ``(warmup_s, wall ms/sample per window, cpu ms/sample per window, total wait s, total timed s)``.
    """
    total = warmup + windows
    t0 = time.perf_counter()
    for i in range(warmup):
        step()
        if progress is not None:
            progress(i + 1, total, f"{what}: warm-up step {i + 1}/{warmup}")
    warmup_s = time.perf_counter() - t0
    wall, cpu = [], []
    waited = timed = 0.0
    for k in range(windows):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(steps):
            waited += step()
        dt = time.perf_counter() - t0
        timed += dt
        wall.append(1000.0 * dt / (steps * batch))
        cpu.append(1000.0 * (time.process_time() - c0) / (steps * batch))
        if progress is not None:
            progress(warmup + k + 1, total, f"{what}: window {k + 1}/{windows} {wall[-1]:.1f} ms/sample")
    return warmup_s, wall, cpu, waited, timed


def bench_synthetic(model: str, input_hw: tuple[int, int], batch: int = 32, options: StepOptions = StepOptions(),
                    warmup: int = 2, windows: int = 5, steps: int = 2, progress: Progress | None = None) -> BenchResult:
    """Model-only training throughput: :class:`TrainStep` of ``model`` on one synthetic batch."""
    from ..models import create_model

    _check_counts(warmup, windows, steps)
    _check_input(input_hw, batch)
    torch.manual_seed(0)
    net = create_model(model)
    with num_threads(options.threads) as threads:
        step = TrainStep(net, options)
        data = synthetic_batch(batch, input_hw, num_keypoints=getattr(net, "num_keypoints", 17))

        def one() -> float:
            step(data)
            return 0.0

        load_before = load_average()
        warmup_s, wall, cpu, _, _ = _timed_windows(one, batch, warmup, windows, steps, progress,
                                                   f"{model} {input_hw[0]}x{input_hw[1]} {options.label}")
    return BenchResult("synthetic", model, f"{input_hw[0]}x{input_hw[1]}", batch, options.precision,
                       options.channels_last, options.compile, threads, wall, cpu, round(warmup_s, 3), load_before,
                       load_average(), steps_per_window=steps)


def loader_config(model: str, input_hw: tuple[int, int], batch: int, options: StepOptions, config=None,
                  workers: int | None = None, cache_images: bool | None = None, samples: int | None = None):
    """The :class:`~hrgcnet.config.TrainConfig` an end-to-end measurement trains with.

    ``config`` (a TrainConfig, a bundled config name or a YAML path; default: the paper recipe's defaults) gives
    the data, augmentation, ``workers`` and image cache; model, input size, batch, precision and memory format
    come from the arguments; the device is the CPU; ``samples`` sets the epoch length so that one epoch covers the
    measurement.
    """
    from ..config import TrainConfig, apply_overrides, load_config

    base = config if isinstance(config, TrainConfig) else load_config(config)
    amp = "'off'" if options.amp_dtype is None else "bf16"  # quoted: YAML reads a bare off as false
    overrides = [f"model={model}", f"input_size={input_hw[0]}x{input_hw[1]}", f"batch_size={batch}", f"amp={amp}",
                 f"channels_last={'true' if options.channels_last else 'false'}", "device=cpu", "val_ann=null",
                 "progress=false"]
    if workers is not None:
        overrides.append(f"workers={workers}")
    if cache_images is not None:
        overrides.append(f"cache_images={'true' if cache_images else 'false'}")
    if samples is not None:
        overrides.append(f"samples_per_epoch={samples}")
    return apply_overrides(base, overrides)


def bench_loader(model: str, input_hw: tuple[int, int], batch: int = 32, options: StepOptions = StepOptions(),
                 config=None, workers: int | None = None, cache_images: bool | None = None, warmup: int = 2,
                 windows: int = 5, steps: int = 2, data_samples: int = 16,
                 progress: Progress | None = None) -> BenchResult:
    """End-to-end training throughput: a :class:`~hrgcnet.engine.train.Trainer` on the real data (see :func:`loader_config`).

    ``data_samples`` samples are first loaded in this process, one thread, to measure the CPU cost of one sample.
    """
    from .distributed import DistInfo
    from .train import Trainer

    _check_counts(warmup, windows, steps)
    _check_input(input_hw, batch)
    need = (warmup + windows * steps) * batch
    cfg = loader_config(model, input_hw, batch, options, config, workers, cache_images, samples=need)
    with num_threads(options.threads) as threads, tempfile.TemporaryDirectory(prefix="hrgcnet-bench-") as run_dir:
        trainer = Trainer(cfg, Path(run_dir), DistInfo())
        if options.compile:
            trainer.model = compile_model(trainer.model)
        data_cpu = _data_cpu_ms(trainer.dataset, data_samples) if data_samples > 0 else None
        trainer.model.train()
        trainer.sampler.set_epoch(0)
        batches = iter(trainer.loader)

        def one() -> float:
            t0 = time.perf_counter()
            batch_ = next(batches)
            waited = time.perf_counter() - t0
            trainer.train_step(batch_)
            return waited

        load_before = load_average()
        warmup_s, wall, cpu, waited, timed = _timed_windows(
            one, batch, warmup, windows, steps, progress, f"{model} {input_hw[0]}x{input_hw[1]} {options.label} + data")
        batches = trainer = one = None  # drops the loader: its worker processes stop
        gc.collect()
    return BenchResult("loader", model, f"{input_hw[0]}x{input_hw[1]}", batch, options.precision,
                       options.channels_last, options.compile, threads, wall, cpu, round(warmup_s, 3), load_before,
                       load_average(), workers=cfg.workers, cache_images=cfg.cache_images,
                       data_wait_fraction=waited / timed if timed > 0 else 0.0, data_cpu_ms_per_sample=data_cpu,
                       steps_per_window=steps, extra={"train_data": [d.ann for d in cfg.train_data]})


def _data_cpu_ms(dataset, n: int) -> float:
    """CPU ms to prepare one sample (decode or cache, augment, encode) with one torch thread, as a loader worker."""
    with num_threads(1):
        n = min(n, len(dataset))
        c0 = time.process_time()
        for i in range(n):
            dataset[(i, i)]
        ms = 1000.0 * (time.process_time() - c0) / max(1, n)
    return round(ms, 3)


# ----------------------------------------------------------------------------------------------- profile

#: Operator -> category of :func:`profile_step` (anything else is "other").
OP_CATEGORIES: dict[str, str] = {
    "aten::mkldnn_convolution": "conv forward", "aten::convolution_backward": "conv backward",
    # bf16 on a CPU without native bf16 (no avx512_bf16 / amx_bf16): torch falls back to its slow kernels.
    "aten::_slow_conv2d_forward": "conv forward", "aten::_slow_conv2d_backward": "conv backward",
    "aten::native_batch_norm": "batch norm", "aten::native_batch_norm_backward": "batch norm",
    "aten::relu_": "relu", "aten::clamp_min_": "relu", "aten::threshold_backward": "relu",
    "aten::add": "add", "aten::add_": "add", "aten::sum": "add",
    "aten::copy_": "copy / cast", "aten::clone": "copy / cast",
    "aten::bmm": "GC pooling", "aten::mm": "GC pooling", "aten::addmm": "GC pooling", "aten::_softmax": "GC pooling",
    "aten::_softmax_backward_data": "GC pooling", "aten::native_layer_norm": "GC pooling",
    "aten::native_layer_norm_backward": "GC pooling",
    "aten::upsample_nearest2d": "upsample", "aten::upsample_nearest2d_backward": "upsample",
    "aten::_fused_adam_": "optimizer", "aten::_foreach_add_": "optimizer", "aten::_foreach_lerp_": "optimizer",
    "aten::_foreach_mul_": "optimizer", "aten::_foreach_addcmul_": "optimizer",
    "aten::_foreach_sqrt": "optimizer", "aten::_foreach_addcdiv_": "optimizer", "aten::_foreach_div_": "optimizer",
}


def profile_step(model: str, input_hw: tuple[int, int], batch: int = 32, options: StepOptions = StepOptions(),
                 warmup: int = 2, steps: int = 2) -> dict:
    """``torch.profiler`` over ``steps`` model-only training steps: where the time goes.

    Returns ``{"ms_per_step", "ops": [{"op", "ms_per_step", "percent", "calls_per_step"}],
    "categories": [{"category", "ms_per_step", "percent"}]}`` by self CPU time, largest first. The profiler adds
    some overhead, so ``ms_per_step`` is higher than in :func:`bench_synthetic`; use it for shares, not speed.
    """
    from torch.profiler import ProfilerActivity, profile

    from ..models import create_model

    _check_counts(warmup, 1, steps)
    _check_input(input_hw, batch)
    torch.manual_seed(0)
    net = create_model(model)
    with num_threads(options.threads):
        step = TrainStep(net, options)
        data = synthetic_batch(batch, input_hw, num_keypoints=getattr(net, "num_keypoints", 17))
        for _ in range(warmup):
            step(data)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                step(data)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events) / 1000.0 / steps
    ops = sorted(({"op": e.key, "ms_per_step": e.self_cpu_time_total / 1000.0 / steps,
                   "calls_per_step": e.count / steps} for e in events), key=lambda r: -r["ms_per_step"])
    cats: dict[str, float] = {}
    for r in ops:
        r["percent"] = 100.0 * r["ms_per_step"] / total
        cat = OP_CATEGORIES.get(r["op"], "other")
        cats[cat] = cats.get(cat, 0.0) + r["ms_per_step"]
    categories = sorted(({"category": c, "ms_per_step": ms, "percent": 100.0 * ms / total} for c, ms in cats.items()),
                        key=lambda r: -r["ms_per_step"])
    return {"model": model, "input_size": f"{input_hw[0]}x{input_hw[1]}", "batch": batch, "label": options.label,
            "threads": options.threads or torch.get_num_threads(), "ms_per_step": total, "ops": ops,
            "categories": categories}


# ------------------------------------------------------------------------------------------- compute floor

def conv_floor(model: str, input_hw: tuple[int, int], batch: int = 32, options: StepOptions = StepOptions(),
               repeats: int = 5) -> dict:
    """The convolutions alone: every conv layer of ``model``, forward + backward in isolation, summed.

    Each distinct conv (input shape, channels, kernel, stride, groups) is timed ``repeats`` times on random tensors
    of the step's precision and memory format (the fastest repeat counts) and multiplied by how often the model
    uses it. Returns ``{"ms_per_sample", "gflop_per_sample", "gflops_per_s", "layers": [...]}``: a measured floor
    for a training step, whose other work (BN, ReLU, adds, the GC blocks' pooling, the optimiser) comes on top.
    FLOPs: 2 per MAC; backward = grad input + grad weight (no grad input for the stem's first conv).
    """
    import torch.nn.functional as F

    from ..models import create_model

    _check_input(input_hw, batch)
    net = create_model(model)
    uses: dict[tuple, int] = {}

    def record(mod: nn.Conv2d, inputs: tuple, _out: torch.Tensor) -> None:
        key = (tuple(inputs[0].shape), mod.out_channels, mod.kernel_size, mod.stride, mod.padding, mod.groups,
               mod.bias is not None)
        uses[key] = uses.get(key, 0) + 1

    hooks = [m.register_forward_hook(record) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            net(torch.zeros(batch, 3, *input_hw))
    finally:
        for h in hooks:
            h.remove()
    dtype = options.amp_dtype or torch.float32
    fmt = torch.channels_last if options.channels_last else torch.contiguous_format
    layers, total_s, total_flop = [], 0.0, 0.0
    with num_threads(options.threads):
        for (shape, out_ch, k, stride, pad, groups, bias), count in uses.items():
            x = torch.randn(shape, dtype=dtype).contiguous(memory_format=fmt).requires_grad_(shape[1] != 3)
            w = torch.randn(out_ch, shape[1] // groups, *k, dtype=dtype).contiguous(memory_format=fmt)
            w.requires_grad_()
            b = torch.zeros(out_ch, dtype=dtype, requires_grad=True) if bias else None
            wrt = [t for t in (x, w, b) if t is not None and t.requires_grad]
            y = F.conv2d(x, w, b, stride, pad, 1, groups)
            gy = torch.randn_like(y)
            macs = y.numel() * (shape[1] // groups) * k[0] * k[1]
            flop = 2 * macs * (3 if x.requires_grad else 2)
            best = float("inf")
            for i in range(repeats + 1):
                t0 = time.perf_counter()
                out = F.conv2d(x, w, b, stride, pad, 1, groups)
                torch.autograd.grad(out, wrt, gy)
                if i:  # the first call plans the oneDNN primitives
                    best = min(best, time.perf_counter() - t0)
            total_s += best * count
            total_flop += flop * count
            layers.append({"input": list(shape), "out_channels": out_ch, "kernel": k[0], "stride": stride[0],
                           "groups": groups, "count": count, "ms": round(best * 1000, 3),
                           "gflops_per_s": round(flop / best / 1e9, 1)})
    layers.sort(key=lambda r: -r["ms"] * r["count"])
    return {"model": model, "input_size": f"{input_hw[0]}x{input_hw[1]}", "batch": batch, "label": options.label,
            "threads": options.threads or torch.get_num_threads(), "ms_per_sample": 1000 * total_s / batch,
            "gflop_per_sample": total_flop / batch / 1e9, "gflops_per_s": total_flop / total_s / 1e9,
            "layers": layers}


def machine_info() -> dict:
    """What the numbers were measured on: CPU model, cores, bf16/AMX flags, torch version and threads."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu": name, "cores": os.cpu_count(), "avx512_bf16": "avx512_bf16" in flags,
            "amx_bf16": "amx_bf16" in flags, "torch": torch.__version__, "threads": torch.get_num_threads()}

