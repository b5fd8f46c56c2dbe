"""The training loop: JointsMSELoss + Adam with a multi-step (or cosine) schedule, mixed precision,
channels_last, DDP through torchrun, periodic validation AP, checkpoints and bit-for-bit resume.

A run directory holds ``config.yaml`` (the full :class:`~hrgcnet.config.TrainConfig`), ``log.jsonl`` (one
JSON object per line: ``start``, ``train`` every ``log_every`` steps, ``val`` (and ``val_model``, see below),
``val_subset`` per ``val_subsets`` file, ``checkpoint``, ``replan``, ``ema_start``, ``end``), ``last.pt`` (model, optimizer, scheduler, grad scaler,
the weights' EMA when ``ema_decay`` is set, epoch/step, sampler position and the RNG states of python, numpy
and torch; readable with ``torch.load(weights_only=True)``) and ``best.safetensors`` (the weights with the best
validation AP, with metadata; with ``val_keep_weights`` also ``val_stepNNNNNNN.safetensors`` at every
validation, so that two runs can be compared and exported at the same step). With ``ema_decay`` the validated and exported weights are the EMA's
(:mod:`hrgcnet.engine.ema`); the trained model's own AP is logged too (``val_model`` events).

Resuming (``resume=True``) restores all of that and continues the same schedule: the sampler yields the
rest of the interrupted epoch with the same per-sample augmentation seeds, so a resumed run produces the
same losses and weights as an uninterrupted one (tested on CPU; CUDA kernels may not be deterministic).
A resumed config with another ``epochs`` re-plans the schedule's length from the current step (a ``replan``
event in the log); everything else that changes what is computed is refused. ``ema_decay`` may change on resume
(it changes what is exported, not the training); a checkpoint without an EMA starts one from its weights.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..config import TrainConfig, save_config
from ..data import AugmentConfig, ImageCache, MixedSampler, build_mixed_dataset, normalize_images
from ..errors import UsageError
from ..jsonfile import atomic_path
from ..models.losses import JointsMSELoss
from .distributed import DistInfo, all_reduce_mean, any_rank, barrier, init_distributed, unwrap, wrap_model
from .ema import ModelEma

CHECKPOINT_NAME = "last.pt"
BEST_NAME = "best.safetensors"


# ------------------------------------------------------------------------------------------- helpers

def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` (see :class:`TrainConfig`) on ``device``; None: full precision.

    ``"auto"``: bf16 on CUDA devices that support it (no loss scaling needed), else fp16 with a
    ``GradScaler``; bf16 on CPUs with native bf16 (avx512_bf16 / amx_bf16 flags), else fp32.
    """
    if amp == "off":
        return None
    if device.type == "cuda":
        if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
            return torch.float16
        return torch.bfloat16
    if amp == "fp16":
        raise UsageError("amp=fp16 needs CUDA; use bf16 or off on CPU")
    from ..backends import cpu_supports_bf16

    if amp == "bf16" or cpu_supports_bf16():
        return torch.bfloat16
    return None


class LRSchedule:
    """Learning-rate factor per optimiser step: linear warm-up times multi-step decay or cosine, times an
    optional annealing tail.

    ``milestones`` are epochs (like ``MultiStepLR``); the factor is ``gamma ** (number of milestones
    passed)``. Cosine goes from 1 to ``final_factor`` over all steps. ``anneal_steps`` > 0: over the last
    ``anneal_steps`` steps of the schedule the factor is further multiplied by a cosine from 1 to ``final_factor``
    (a constant rate that anneals at its end). A plain object (no lambdas) so that ``LambdaLR.state_dict`` stores
    it as data.
    """

    def __init__(self, kind: str, steps_per_epoch: int, epochs: int, milestones: list[int], gamma: float,
                 warmup_steps: int = 0, final_factor: float = 0.0, anneal_steps: int = 0) -> None:
        self.kind = kind
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = steps_per_epoch * epochs
        self.milestone_steps = [m * steps_per_epoch for m in milestones]
        self.gamma = gamma
        self.warmup_steps = warmup_steps
        self.final_factor = final_factor
        self.anneal_steps = anneal_steps

    def _cosine(self, progress: float) -> float:
        progress = min(1.0, max(0.0, progress))
        return self.final_factor + (1 - self.final_factor) * 0.5 * (1 + math.cos(math.pi * progress))

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        if self.kind == "cosine":
            factor = self._cosine(step / max(1, self.total_steps))
        else:
            factor = self.gamma ** sum(step >= m for m in self.milestone_steps)
        if self.anneal_steps > 0:
            factor *= self._cosine((step - (self.total_steps - self.anneal_steps)) / self.anneal_steps)
        return warm * factor


def make_optimizer(params, lr: float, weight_decay: float, device: torch.device) -> torch.optim.Adam:
    """Adam, fused where this torch build supports it for ``device``, else foreach."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


def rng_state() -> dict:
    """RNG states of python, numpy and torch as tensors/lists (``weights_only``-loadable)."""
    py = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


# Loader workers start from a fresh forkserver process rather than as forks of the trainer: a fork copies the
# state of the parent's other threads (a served app's, OpenCV's or OpenVINO's pools, as in a test session), and
# CI saw forked workers hang in such a process. The dataset is pickled once per worker (persistent workers).
_WORKER_CONTEXT = "forkserver"


def _worker_init(worker_id: int) -> None:
    # Two cores: each loader process gets one torch thread so workers never oversubscribe the trainer.
    # Not cv2.setNumThreads: in a forked child of a process that already used OpenCV's pthreads pool it
    # deadlocks (reproduced with opencv 5.0); the crops are too small for OpenCV to parallelise anyway.
    torch.set_num_threads(1)
    # A stop signal sent to the run's process group (Ctrl-C, `kill -- -PGID`) is for the trainer, which finishes
    # its step, saves a checkpoint and shuts the workers down; a worker that got it would die first and fail the
    # trainer without that checkpoint. So workers leave the group (and, forkserver children, do not match
    # `pkill -f "hrgcnet train"` either), but still die of the trainer's own terminate() at its exit: a worker
    # that ignored SIGTERM instead kept a process whose loader was not shut down from ever exiting.
    os.setpgrp()


def new_run_dir(root: str | Path, config: TrainConfig, name: str | None = None) -> Path:
    """``root/<name>`` or ``root/<model>_<HxW>_<timestamp>`` (made unique)."""
    base = name or f"{config.model}_{config.input_size}_{time.strftime('%Y%m%d-%H%M%S')}"
    path = Path(root) / base
    i = 1
    while path.exists() and any(path.iterdir()):
        path = Path(root) / f"{base}_{i}"
        i += 1
    return path


@dataclass
class TrainState:
    """Where the run is: completed epochs, batches done in the current epoch, optimiser steps."""

    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    best_ap: float = -1.0
    elapsed_s: float = 0.0


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    run_dir: Path
    steps: int
    epochs_done: int
    stopped: str  # "finished" | "max_minutes" | "stop_after_steps" | "signal"
    best_ap: float | None
    last_val: dict | None = None
    losses: list[float] = field(default_factory=list)


class StopOnSignal:
    """While active (main thread only), SIGTERM and SIGINT set :attr:`requested` so that training can save a
    checkpoint and stop at the next step; a second signal acts as usual (kills / raises KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict = {}

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        if self.requested:
            signal.signal(signum, self._previous.pop(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


class JsonlLog:
    """Append JSON lines to ``path`` (rank 0 only)."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, event: str, **fields) -> None:
        if not self.enabled:
            return
        record = {"event": event, "time": round(time.time(), 3), **fields}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


# ----------------------------------------------------------------------------------------------- train

def train(config: TrainConfig, run_dir: str | Path, resume: bool = False) -> TrainResult:
    """Train ``config`` in ``run_dir`` (created; ``resume=True`` continues from its ``last.pt``).

    Works as a single process or under ``torchrun`` (one process per GPU or CPU worker). With ``workers > 0``
    the loader workers start from a forkserver, which imports the main module as Python's spawn does: in a
    script, call this under ``if __name__ == "__main__":``.
    """
    info = init_distributed(config.device)
    trainer = Trainer(config, Path(run_dir), info, resume=resume)
    return trainer.run()


class Trainer:
    """One training run; see :func:`train`."""

    def __init__(self, config: TrainConfig, run_dir: Path, info: DistInfo, resume: bool = False) -> None:
        from ..models import create_model

        self.cfg = config
        self.run_dir = run_dir
        self.info = info
        self.device = info.device
        ckpt_path = run_dir / CHECKPOINT_NAME
        if resume and not ckpt_path.is_file():
            raise UsageError(f"cannot resume: {ckpt_path} not found")
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            if not resume:
                save_config(config, run_dir / "config.yaml")
        barrier()
        self.log = JsonlLog(run_dir / "log.jsonl", info.is_main)
        seed_everything(config.seed + info.rank)
        torch.manual_seed(config.seed)  # identical initial weights on every rank

        # Data.
        cache = ImageCache(config.cache_max_side) if config.cache_images else None
        augment = config.augment if isinstance(config.augment, AugmentConfig) else AugmentConfig(**config.augment)
        self.dataset, sizes, weights = build_mixed_dataset(config.train_data, config.input_hw, config.sigma,
                                                           config.unbiased, augment, cache)
        if cache is not None:
            t0 = time.perf_counter()
            cache.preload([r.image_path for r in self.dataset.records])
            self._print(f"cached {len(cache)} images ({cache.nbytes / 2**20:.0f} MiB) "
                        f"in {time.perf_counter() - t0:.1f} s")
        self.sampler = MixedSampler(sizes, weights, config.samples_per_epoch, seed=config.seed,
                                    rank=info.rank, world_size=info.world_size)
        self.steps_per_epoch = self.sampler.num_samples // config.batch_size
        if self.steps_per_epoch < 1:
            raise UsageError(f"an epoch has {self.sampler.num_samples} samples per process, fewer than "
                             f"batch_size={config.batch_size}; raise samples_per_epoch or lower batch_size")
        self.loader = DataLoader(
            self.dataset, batch_size=config.batch_size, sampler=self.sampler, num_workers=config.workers,
            drop_last=True, pin_memory=self.device.type == "cuda", worker_init_fn=_worker_init,
            persistent_workers=config.workers > 0, prefetch_factor=4 if config.workers > 0 else None,
            multiprocessing_context=_WORKER_CONTEXT if config.workers > 0 else None)

        # Model, optimiser, schedule.
        model = create_model(config.model)
        self.init_report = None
        #: samples the initial weights had seen (their ``samples_seen`` metadata), so that training carried on
        #: from committed weights counts all of it
        self.samples_before = 0
        if config.init_from and not resume:
            from ..analysis.curves import weights_samples_seen
            from ..models.weights import init_from_hrnet, load_weights

            state_dict, init_meta = load_weights(config.init_from)
            self.init_report = init_from_hrnet(model, state_dict)
            self.samples_before = weights_samples_seen(config.init_from, init_meta) or 0
            self._print(f"init from {config.init_from}: {self.init_report.summary()}")
        model.to(self.device)
        if config.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = wrap_model(model, info, config.sync_bn)
        #: the weights' moving average (validated and exported instead of the model's), or None
        self.ema = ModelEma(model, config.ema_decay) if config.ema_decay > 0 else None
        self.criterion = JointsMSELoss(use_target_weight=True)
        self.optimizer = make_optimizer(self.model.parameters(), config.lr, config.weight_decay, self.device)
        self.schedule = LRSchedule(config.lr_schedule, self.steps_per_epoch, config.epochs, config.lr_steps,
                                   config.lr_factor, config.warmup_steps, config.cosine_final_factor,
                                   config.anneal_epochs * self.steps_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.schedule)
        self.amp_dtype = autocast_dtype(config.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.state = TrainState()
        if resume:
            self._load_checkpoint(ckpt_path)
            self._replan()

    def _replan(self) -> None:
        """A resumed run given another number of epochs or annealing epochs than its checkpoint's schedule: the
        schedule runs over the new length from the current step on (the learning rate moves to the new curve's
        value at this step), and the run's config records it for later resumes. An annealing tail must start at
        or after the current step."""
        epochs, anneal = self.cfg.epochs, self.cfg.anneal_epochs
        saved_epochs = self.schedule.total_steps // self.steps_per_epoch  # restored from the checkpoint
        # restored from the checkpoint; one written before the tail existed keeps __init__'s 0
        saved_anneal = self.schedule.anneal_steps // self.steps_per_epoch
        if (epochs, anneal) == (saved_epochs, saved_anneal):
            return
        step = self.state.step
        if epochs * self.steps_per_epoch <= step:
            raise UsageError(f"cannot resume with {epochs} epochs: the run is at step {step} "
                             f"(epoch {self.state.epoch}), past the end of {epochs} x {self.steps_per_epoch} steps")
        if anneal and (epochs - anneal) * self.steps_per_epoch < step:  # the tail would jump in, not start
            raise UsageError(f"cannot anneal over the last {anneal} of {epochs} epochs: that starts at step "
                             f"{(epochs - anneal) * self.steps_per_epoch}, before the run's step {step}")
        self.schedule.total_steps = epochs * self.steps_per_epoch
        self.schedule.anneal_steps = anneal * self.steps_per_epoch
        for group, base_lr in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
            group["lr"] = base_lr * self.schedule(self.scheduler.last_epoch)
        if self.info.is_main:
            save_config(self.cfg, self.run_dir / "config.yaml")
        self.log.write("replan", step=step, epochs_before=saved_epochs, epochs=epochs,
                       anneal_epochs_before=saved_anneal, anneal_epochs=anneal)
        tail = f", annealed over its last {anneal}" if anneal else ""
        self._print(f"schedule re-planned at step {step}: {saved_epochs} -> {epochs} epochs "
                    f"({epochs * self.steps_per_epoch} steps){tail}, lr now "
                    f"{self.optimizer.param_groups[0]['lr']:.3g}")

    # ------------------------------------------------------------------------------------ checkpoint

    def _print(self, text: str) -> None:
        if self.info.is_main:
            print(text, flush=True)

    def save_checkpoint(self) -> Path | None:
        """Write ``last.pt`` atomically (rank 0)."""
        if not self.info.is_main:
            return None
        path = self.run_dir / CHECKPOINT_NAME
        s = self.state
        with atomic_path(path) as tmp:
            torch.save({
                "model": unwrap(self.model).state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
                "epoch": s.epoch, "batch_in_epoch": s.batch_in_epoch, "step": s.step,
                "best_ap": s.best_ap, "elapsed_s": s.elapsed_s, "samples_before": self.samples_before,
                "rng": rng_state(),
                # what `--init-from last.pt` reads: the trained weights and the samples they had seen
                "meta": {"model": self.cfg.model, "input_size": self.cfg.input_size, "steps": s.step,
                         "samples_seen": self.samples_seen()},
            }, tmp)
        self.log.write("checkpoint", step=s.step, epoch=s.epoch, batch_in_epoch=s.batch_in_epoch, path=str(path))
        return path

    def _load_checkpoint(self, path: Path) -> None:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        unwrap(self.model).load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.state = TrainState(ckpt["epoch"], ckpt["batch_in_epoch"], ckpt["step"], ckpt["best_ap"],
                                ckpt["elapsed_s"])
        set_rng_state(ckpt["rng"])
        self.samples_before = int(ckpt.get("samples_before", 0))
        if self.ema is not None:
            if "ema" in ckpt:
                self.ema.load_state_dict(ckpt["ema"])
            else:  # EMA switched on for a run that had none: it starts from the weights trained so far
                self.ema.load_state_dict(unwrap(self.model).state_dict())
                self.log.write("ema_start", step=self.state.step, decay=self.cfg.ema_decay)

    # ------------------------------------------------------------------------------------ validation

    def validate(self) -> dict | None:
        """GT-box COCO AP on ``val_ann`` (rank 0; other ranks wait) of the exported weights (the EMA's when
        there is one, else the model's); exports the best."""
        cfg = self.cfg
        if not cfg.val_ann:
            return None
        summary = None
        if self.info.is_main:
            if self.ema is not None:
                self._evaluate("val_model", unwrap(self.model))
            weights = self.ema.module if self.ema is not None else unwrap(self.model)
            summary = self._evaluate("val", weights)
            s = self.state
            ap = summary["AP"] if summary["AP"] is not None else 0.0
            if ap > s.best_ap:
                s.best_ap = ap
                self.export(weights, summary, BEST_NAME)
            if cfg.val_keep_weights:
                self.export(weights, summary, f"val_step{s.step:07d}.safetensors")
            self._print(f"val @ step {s.step}: " + " ".join(f"{k} {v:.3f}" for k, v in summary.items()
                                                          if v is not None))
        barrier()
        return summary

    def _evaluate(self, event: str, model: torch.nn.Module) -> dict:
        """AP of ``model`` on the validation set, logged as ``event``."""
        from ..evaluation.coco import evaluate_model, evaluate_subset

        cfg, s = self.cfg, self.state
        images = cfg.val_images or str(Path(cfg.val_ann).parent / "images")
        t0 = time.perf_counter()
        summary, results = evaluate_model(model, cfg.val_ann, images, cfg.input_hw, flip_test=cfg.val_flip,
                                          max_images=cfg.val_max_images,
                                          refine="dark" if cfg.unbiased else "quarter",
                                          channels_last=cfg.channels_last)
        self.log.write(event, step=s.step, epoch=s.epoch, seconds=round(time.perf_counter() - t0, 2), **summary)
        for ann in cfg.val_subsets:
            self.log.write(f"{event}_subset", step=s.step, epoch=s.epoch, ann=ann,
                           **evaluate_subset(results, ann))
        return summary

    def export(self, model: torch.nn.Module, summary: dict, name: str) -> Path:
        """Write ``model``'s weights (fp16 safetensors) with the run's metadata and ``summary`` as ``name``."""
        from ..models.weights import save_weights

        cfg = self.cfg
        return save_weights(model, self.run_dir / name, metadata={
            "model": cfg.model, "input_size": cfg.input_size, "input_hw": list(cfg.input_hw),
            "sigma": cfg.sigma, "unbiased": cfg.unbiased,
            "data": [d.ann for d in cfg.train_data], "val_ann": cfg.val_ann,
            "steps": self.state.step, "epoch": self.state.epoch, "ap": summary.get("AP"), "val": summary,
            "init_from": cfg.init_from, "ema_decay": cfg.ema_decay,
            "samples_seen": self.samples_seen(),
        })

    def samples_seen(self) -> int:
        """Samples the weights have seen: those of the initial weights plus this run's steps."""
        return self.samples_before + self.state.step * self.cfg.batch_size * self.info.world_size

    # ---------------------------------------------------------------------------------------- loop

    def train_step(self, batch: dict) -> torch.Tensor:
        """One optimiser step; returns the (detached, local) loss."""
        dev = self.device
        images = batch["image"].to(dev, non_blocking=True)
        if self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        images = normalize_images(images)
        targets = batch["heatmaps"].to(dev, non_blocking=True)
        weights = batch["target_weight"].to(dev, non_blocking=True)
        with torch.autocast(dev.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            heatmaps = self.model(images)
        loss = self.criterion(heatmaps, targets, weights)
        self.step_lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(unwrap(self.model))
        return loss.detach()

    def run(self) -> TrainResult:
        """Train until the configured epochs, ``max_minutes``, ``stop_after_steps`` or SIGTERM/SIGINT (each
        saves a checkpoint that ``--resume`` continues from)."""
        with StopOnSignal() as stop:
            return self._run(stop)

    def _run(self, stop: StopOnSignal) -> TrainResult:
        cfg, s, info = self.cfg, self.state, self.info
        if s.epoch >= cfg.epochs:
            self._print(f"{self.run_dir} already finished ({s.epoch} epochs, {s.step} steps)")
            return TrainResult(self.run_dir, s.step, s.epoch, "finished", s.best_ap if s.best_ap >= 0 else None)
        start_time = self._start_wall = time.perf_counter()
        last_ckpt = start_time
        global_batch = cfg.batch_size * info.world_size
        n_params = sum(p.numel() for p in self.model.parameters())
        self.log.write("start", step=s.step, epoch=s.epoch, resumed=s.step > 0, world_size=info.world_size,
                       samples_before=self.samples_before,
                       device=str(self.device),
                       amp=str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "off",
                       params=n_params, persons=len(self.dataset), samples_per_epoch=self.sampler.samples_per_epoch,
                       steps_per_epoch=self.steps_per_epoch, total_steps=self.steps_per_epoch * cfg.epochs,
                       init_report=self.init_report.summary() if self.init_report else None)
        self._print(f"run {self.run_dir}: {cfg.model} {cfg.input_size}, {len(self.dataset)} persons, "
                    f"{self.steps_per_epoch} steps/epoch x {cfg.epochs} epochs, batch {global_batch}, "
                    f"device {self.device}, amp {self.amp_dtype or 'off'}")
        self.model.train()
        stopped = "finished"
        losses: list[float] = []
        window: list[torch.Tensor] = []
        t_data = t_step = 0.0
        last_val = None
        done = False
        while s.epoch < cfg.epochs and not done:
            self.sampler.set_epoch(s.epoch, start=s.batch_in_epoch * cfg.batch_size)
            bar = self._progress_bar()
            t0 = time.perf_counter()
            for batch in self.loader:
                t1 = time.perf_counter()
                loss = self.train_step(batch)
                t2 = time.perf_counter()
                t_data += t1 - t0
                t_step += t2 - t1
                window.append(loss)
                s.step += 1
                s.batch_in_epoch += 1
                if s.step % cfg.log_every == 0 or s.batch_in_epoch == self.steps_per_epoch:
                    mean_loss = float(all_reduce_mean(torch.stack(window).float().mean()))
                    losses.append(mean_loss)
                    sps = global_batch * len(window) / max(1e-9, t_data + t_step)
                    lr = self.step_lr
                    self.log.write("train", step=s.step, epoch=s.epoch, loss=mean_loss, lr=lr,
                                   samples_per_s=round(sps, 3), data_s=round(t_data / len(window), 5),
                                   step_s=round(t_step / len(window), 5))
                    if bar is not None:
                        bar.set_postfix(loss=f"{mean_loss:.3e}", lr=f"{lr:.2e}", sps=f"{sps:.1f}")
                    window, t_data, t_step = [], 0.0, 0.0
                if bar is not None:
                    bar.update(1)
                now = time.perf_counter()
                if info.is_main and now - last_ckpt >= cfg.checkpoint_minutes * 60:
                    s.elapsed_s += now - start_time
                    start_time = now
                    self.save_checkpoint()
                    last_ckpt = now
                if cfg.stop_after_steps is not None and s.step >= cfg.stop_after_steps:
                    stopped, done = "stop_after_steps", True
                else:
                    time_up = cfg.max_minutes is not None and now - self._start_wall >= cfg.max_minutes * 60
                    if any_rank(stop.requested or (info.is_main and time_up), self.device):
                        stopped, done = ("signal" if stop.requested else "max_minutes"), True
                if done:
                    if window:  # the steps since the last log line
                        mean_loss = float(all_reduce_mean(torch.stack(window).float().mean()))
                        losses.append(mean_loss)
                        self.log.write("train", step=s.step, epoch=s.epoch, loss=mean_loss, lr=self.step_lr,
                                       samples_per_s=round(global_batch * len(window) / max(1e-9, t_data + t_step), 3),
                                       data_s=round(t_data / len(window), 5), step_s=round(t_step / len(window), 5))
                    break
                t0 = time.perf_counter()
            if bar is not None:
                bar.close()
            if s.batch_in_epoch >= self.steps_per_epoch:
                s.epoch += 1
                s.batch_in_epoch = 0
                if cfg.val_every > 0 and s.epoch % cfg.val_every == 0 and s.epoch < cfg.epochs:
                    last_val = self.validate()
                    self.model.train()
        if stopped == "finished" and cfg.val_ann:
            last_val = self.validate()
        s.elapsed_s += time.perf_counter() - start_time
        self.save_checkpoint()
        self.log.write("end", step=s.step, epoch=s.epoch, stopped=stopped,
                       best_ap=s.best_ap if s.best_ap >= 0 else None, elapsed_s=round(s.elapsed_s, 1))
        self._print(f"{stopped} at step {s.step} (epoch {s.epoch}); checkpoint {self.run_dir / CHECKPOINT_NAME}")
        return TrainResult(self.run_dir, s.step, s.epoch, stopped, s.best_ap if s.best_ap >= 0 else None,
                           last_val, losses)

    def _progress_bar(self):
        if not (self.info.is_main and self.cfg.progress):
            return None
        from tqdm import tqdm

        return tqdm(total=self.steps_per_epoch, initial=self.state.batch_in_epoch, dynamic_ncols=True,
                    desc=f"epoch {self.state.epoch + 1}/{self.cfg.epochs}", unit="step", leave=False)
