"""``hrgcnet train``: train a model from a config (bundled name or YAML file) plus overrides.

Single process: ``hrgcnet train --config hrgcnet_w32_128x96_cpu --max-minutes 60``.
Several GPUs / nodes: ``torchrun --nproc_per_node=4 -m hrgcnet train --config hrgcnet_w32_256x192``.
Continue a run: ``hrgcnet train --resume runs/NAME`` (same schedule; only run-control settings such as
``--max-minutes`` may change, and ``--epochs``, which re-plans the schedule's length from the current step on:
for a run that will not end in the time there is, or that has time to go on; ``--set anneal_epochs=N`` anneals
the rate over the schedule's last N epochs, e.g. ``--epochs 66 --set anneal_epochs=18`` for a constant-rate run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UsageError

#: Config keys that may change when resuming (they do not change what is trained).
RESUME_SAFE_KEYS = frozenset({"max_minutes", "stop_after_steps", "checkpoint_minutes", "progress", "log_every",
                              "workers", "device", "cache_images", "val_max_images", "ema_decay", "val_every",
                              "val_subsets", "val_keep_weights"})

#: CLI flag -> config key for the common settings (everything else: ``--set key=value``).
FLAG_KEYS = {
    "model": "model", "input_size": "input_size", "batch_size": "batch_size", "workers": "workers",
    "epochs": "epochs", "lr": "lr", "sigma": "sigma", "init_from": "init_from", "max_minutes": "max_minutes",
    "seed": "seed", "device": "device", "amp": "amp", "stop_after_steps": "stop_after_steps",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a pose model (COCO-format keypoint data; torchrun for several GPUs)",
        description="Train HRNet/HRGCNet on COCO-format keypoint files. The full config is saved as "
                    "config.yaml in the run directory, with log.jsonl, last.pt and best.safetensors.")
    p.add_argument("--config", default=None, metavar="NAME_OR_YAML",
                   help="bundled config name (hrgcnet_w32_256x192, hrnet_w32_256x192, hrgcnet_w32_128x96_cpu) "
                        "or a YAML file; default: the paper recipe defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (YAML value; dotted keys: augment.flip_prob=0, train_data.1.weight=0.5)")
    p.add_argument("--model", help="model name (see `hrgcnet models`)")
    p.add_argument("--input-size", help="crop size HxW, e.g. 128x96")
    p.add_argument("--batch-size", type=int, help="images per process")
    p.add_argument("--workers", type=int, help="DataLoader processes per training process")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--sigma", type=float, help="Gaussian sigma of the targets, heatmap pixels")
    p.add_argument("--unbiased", action="store_true", default=None, help="unbiased (DARK) target encoding")
    p.add_argument("--init-from", metavar="PATH", help="initialise from an HRNet checkpoint (same-shaped tensors)")
    p.add_argument("--max-minutes", type=float, help="stop cleanly (with a checkpoint) after this many minutes")
    p.add_argument("--stop-after-steps", type=int, help="stop after this many optimiser steps (schedule unchanged)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu, cuda")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), help="mixed precision (default auto)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--runs-root", default="runs", help="parent folder of new run directories (default runs/)")
    p.add_argument("--name", help="run directory name under --runs-root (default: model_size_timestamp)")
    p.add_argument("--run-dir", help="exact run directory (overrides --runs-root/--name)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last.pt with its config.yaml (stop conditions such "
                        "as --max-minutes apply to this invocation only)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=run)


def cli_overrides(args: argparse.Namespace) -> list[str]:
    """The ``key=value`` overrides given by flags and ``--set`` (flags last, so they win)."""
    out = list(args.overrides)
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag, None)
        if value is not None:
            out.append(f"{key}={value}")
    if args.unbiased:
        out.append("unbiased=true")
    if args.no_progress:
        out.append("progress=false")
    return out


def resolve(args: argparse.Namespace):
    """``(config, run_dir or None, resume)`` from the arguments."""
    from ..config import apply_overrides, load_config, parse_override

    overrides = cli_overrides(args)
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise UsageError(f"cannot resume: {run_dir / 'config.yaml'} not found")
        if args.config:
            raise UsageError("--resume uses the run's own config.yaml; drop --config")
        replan = {"epochs", "anneal_epochs"}
        changed = sorted({parse_override(o)[0].split(".")[0] for o in overrides} - RESUME_SAFE_KEYS - replan)
        if changed:
            raise UsageError(f"cannot change {', '.join(changed)} when resuming (it would change the schedule); "
                             f"allowed: {', '.join(sorted(RESUME_SAFE_KEYS))}, "
                             "and epochs and anneal_epochs (re-plan the schedule's length and end)")
        # Stop conditions belong to one invocation: a resumed run goes to the end unless given again.
        config = apply_overrides(load_config(run_dir / "config.yaml"), ["max_minutes=null", "stop_after_steps=null"])
        return apply_overrides(config, overrides), run_dir, True
    config = load_config(args.config, overrides)
    return config, Path(args.run_dir) if args.run_dir else None, False


def run(args: argparse.Namespace) -> int:
    import yaml

    from ..engine.distributed import broadcast_object, cleanup, init_distributed
    from ..engine.train import new_run_dir, train

    config, run_dir, resume = resolve(args)
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(config.to_dict(), sort_keys=False))
        return 0
    info = init_distributed(config.device)
    try:
        if run_dir is None:
            # One rank picks the directory so that all ranks agree (timestamps may differ between them).
            run_dir = broadcast_object(new_run_dir(args.runs_root, config, args.name) if info.is_main else None)
        result = train(config, run_dir, resume=resume)
    finally:
        cleanup()
    if info.is_main:
        best = f"{result.best_ap:.4f}" if result.best_ap is not None else "-"
        print(f"{result.stopped}: {result.steps} steps, {result.epochs_done}/{config.epochs} epochs, "
              f"best val AP {best}; run dir {result.run_dir}")
    return 0
