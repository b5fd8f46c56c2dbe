"""``hrgcnet bench --train``: training throughput on this machine, model only and end to end; ``hrgcnet bench
--infer``: inference latency per backend, the network alone and a whole frame (:mod:`hrgcnet.backends.bench`).

Example (the table of ``docs/training-speed.md``)::

    hrgcnet bench --train --model hrnet-w32 --model hrgcnet-w32 --input-size 128x96 --batch 32 --baseline

Every row gives ms/sample (median and range over the timed windows), samples/s, this process's CPU ms/sample, the
fraction of time waiting for data (end to end) and the load average, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..errors import UsageError

MODES = ("synthetic", "loader", "both")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="training throughput (ms/sample) on this machine, model only and with the real data loader",
        description="Measure training steps: model only on a synthetic batch, and end to end with the training "
                    "data loader on ../shared/data. Prints median and range over timed windows after warm-up, "
                    "the fraction of time spent waiting for data and the load average.")
    p.add_argument("--train", action="store_true", help="measure training steps")
    p.add_argument("--infer", action="store_true",
                   help="measure inference per backend (torch fp32, torch bf16, OpenVINO): ms per batch and per crop "
                        "for --batches, a 640x480 frame end to end with 1 and 8 persons, ratios, conv floor")
    p.add_argument("--batches", default="1,2,8", help="--infer: batch sizes, comma-separated (default 1,2,8)")
    p.add_argument("--configs", default=None,
                   help="--infer: configurations, comma-separated (default: every one this machine has: "
                        "'torch fp32', 'torch bf16' with native bf16, 'openvino', 'openvino mixed' and "
                        "'openvino bf16' with native bf16, 'openvino int8' with NNCF)")
    p.add_argument("--repeats", type=int, default=10, help="--infer: timed calls per row, median (default 10)")
    p.add_argument("--model", action="append", default=None, metavar="NAME",
                   help="model name (see `hrgcnet models`); repeat for several (default hrgcnet-w32)")
    p.add_argument("--input-size", default=None,
                   help="HxW, multiples of 32 (default 256x192; --infer: comma-separated, default 128x96,256x192)")
    p.add_argument("--batch", type=int, default=32, help="samples per step (default 32, the training recipe)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="bf16", help="bf16: autocast (default)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="channels_last memory format (default on)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model (kernels cached between runs, see docs/training-speed.md)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's, = cores)")
    p.add_argument("--baseline", action="store_true",
                   help="also run the plain eager fp32 NCHW configuration, side by side")
    p.add_argument("--mode", choices=MODES, default="both",
                   help="synthetic: model only; loader: with the real data loader; both (default)")
    p.add_argument("--config", default=None, metavar="NAME_OR_YAML",
                   help="training config giving the data, augmentation and workers of the end-to-end run "
                        "(default: the paper recipe, ../shared/data/coco/train.json)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the config's)")
    p.add_argument("--cache-images", action=argparse.BooleanOptionalAction, default=None,
                   help="decode every image once before measuring (default: the config's)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--windows", type=int, default=5, help="timed windows (default 5)")
    p.add_argument("--steps", type=int, default=2, help="steps per timed window (default 2)")
    p.add_argument("--floor", action="store_true",
                   help="also time every conv layer alone (forward + backward): the conv-only floor")
    p.add_argument("--profile", action="store_true",
                   help="also profile model-only steps (torch.profiler): time per operator and per category")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.bench import (BASELINE, StepOptions, bench_loader, bench_synthetic, conv_floor, machine_info,
                         profile_step)
    from ..config import parse_input_size
    from ..models.registry import get_spec

    if args.train == args.infer:
        raise UsageError("pass --train (training steps) or --infer (inference per backend)")
    if args.infer:
        return run_infer(args)
    models = args.model or ["hrgcnet-w32"]
    for name in models:
        get_spec(name)  # unknown name -> UsageError before any work
    input_hw = parse_input_size(args.input_size or "256x192")
    if args.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {args.batch}")
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    options = StepOptions(args.precision, args.channels_last, args.compile, args.threads)
    configs = [("baseline", StepOptions(BASELINE.precision, BASELINE.channels_last, False, args.threads))] \
        if args.baseline else []
    configs.append(("optimized" if args.baseline else "run", options))
    modes = ["synthetic", "loader"] if args.mode == "both" else [args.mode]
    counts = dict(warmup=args.warmup, windows=args.windows, steps=args.steps)
    progress = None if args.json else _progress

    machine = machine_info()
    if args.threads:
        machine["threads"] = args.threads
    if not args.json:
        print(_machine_line(machine), flush=True)
    results, floors, profiles = [], [], []
    for name in models:
        for mode in modes:
            for role, opts in configs:  # baseline and optimised back to back: same load, same data
                if mode == "synthetic":
                    res = bench_synthetic(name, input_hw, args.batch, opts, progress=progress, **counts)
                else:
                    res = bench_loader(name, input_hw, args.batch, opts, config=args.config, workers=args.workers,
                                       cache_images=args.cache_images, progress=progress, **counts)
                res.extra["role"] = role
                results.append(res)
                if not args.json:
                    _clear()
                    print(_row(res), flush=True)
        if args.floor:
            floors.append(conv_floor(name, input_hw, args.batch, options))
            if not args.json:
                f = floors[-1]
                print(f"  conv-only floor {name} {f['input_size']} {f['label']}: {f['ms_per_sample']:.2f} ms/sample "
                      f"({f['gflop_per_sample']:.1f} GFLOP/sample at {f['gflops_per_s']:.0f} GFLOP/s)", flush=True)
        if args.profile:
            profiles.append(profile_step(name, input_hw, args.batch, options, warmup=args.warmup, steps=args.steps))
            if not args.json:
                print(_profile_text(profiles[-1]), flush=True)
    comparisons = compare(results)
    if args.json:
        print(json.dumps({"machine": machine, "command": "hrgcnet " + " ".join(sys.argv[1:]),
                          "results": [r.to_dict() for r in results], "comparisons": comparisons,
                          "conv_floor": floors, "profiles": profiles}, indent=2))
        return 0
    for c in comparisons:
        print(c["text"])
    return 0


def compare(results: list) -> list[dict]:
    """Speed-ups of the optimised configuration over the baseline, and HRGCNet's cost relative to HRNet's
    (same width, input size, mode and configuration)."""
    out = []
    by_key = {(r.model, r.input_size, r.mode, r.extra.get("role")): r for r in results}
    for (model, size, mode, role), r in by_key.items():
        base = by_key.get((model, size, mode, "baseline"))
        if role == "optimized" and base is not None:
            x = base.median_ms_per_sample / r.median_ms_per_sample
            out.append({"kind": "speedup", "model": model, "input_size": size, "mode": mode, "factor": x,
                        "text": f"{model} {size} {mode}: {x:.2f}x faster than the eager fp32 NCHW baseline"})
        if model.startswith("hrgcnet-w") and "table1" not in model:
            ref = by_key.get((model.replace("hrgcnet-", "hrnet-"), size, mode, role))
            if ref is not None:
                pct = 100.0 * (r.median_ms_per_sample / ref.median_ms_per_sample - 1.0)
                out.append({"kind": "gc_cost", "model": model, "input_size": size, "mode": mode, "role": role,
                            "percent": pct,
                            "text": f"{model} vs {ref.model} {size} {mode} ({r.label}): {pct:+.1f}% time per sample"})
    return out


def _profile_text(prof: dict, top: int = 12) -> str:
    lines = [f"  profile {prof['model']} {prof['input_size']} bs{prof['batch']} {prof['label']}, {prof['threads']} "
             f"threads: {prof['ms_per_step']:.0f} ms/step under the profiler"]
    lines += [f"    {c['category']:<14} {c['ms_per_step']:8.1f} ms/step {c['percent']:5.1f}%" for c in prof["categories"]]
    lines.append("    top operators:")
    lines += [f"    {o['op']:<36} {o['ms_per_step']:8.1f} ms/step {o['percent']:5.1f}% ({o['calls_per_step']:.0f} calls)"
              for o in prof["ops"][:top]]
    return "\n".join(lines)


def _machine_line(m: dict) -> str:
    isa = "AMX-BF16" if m["amx_bf16"] else ("AVX512-BF16, no AMX" if m["avx512_bf16"] else "no native bf16")
    return f"machine: {m['cpu']}, {m['cores']} cores ({isa}); torch {m['torch']}, {m['threads']} threads"


def _row(r) -> str:
    data = ""
    if r.mode == "loader":
        data = (f"  data wait {100 * r.data_wait_fraction:.1f}% (workers {r.workers}, cache {'on' if r.cache_images else 'off'}, "
                f"{r.data_cpu_ms_per_sample:.2f} CPU ms/sample to load)")
    return (f"{r.model:<12} {r.input_size:<8} bs{r.batch:<3} {r.label:<28} {r.mode:<9} "
            f"{r.median_ms_per_sample:7.1f} ms/sample [{r.min_ms_per_sample:.1f}-{r.max_ms_per_sample:.1f}] "
            f"{r.samples_per_s:6.1f} samples/s  cpu {r.cpu_ms_per_sample:6.1f} ms/sample  "
            f"load {r.load_before[0]:.1f}->{r.load_after[0]:.1f}{data}")


def _progress(done: int, total: int, text: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r[{done}/{total}] {text}\x1b[K")
        sys.stderr.flush()


def _clear() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def run_infer(args: argparse.Namespace) -> int:
    """``--infer``: a table per part, or with ``--json`` one JSON object on the last line."""
    from ..backends.bench import bench_infer
    from ..config import parse_input_size
    from ..models.registry import get_spec

    models = args.model or ["hrnet-w32", "hrgcnet-w32"]
    for name in models:
        get_spec(name)
    sizes = [parse_input_size(s) for s in (args.input_size or "128x96,256x192").split(",")]
    try:
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        raise UsageError(f"--batches must be comma-separated integers, got {args.batches!r}") from None
    if min(batches) < 1 or args.repeats < 1:
        raise UsageError("--batches and --repeats must be >= 1")
    configs = [c.strip() for c in args.configs.split(",")] if args.configs else None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = bench_infer(models, sizes, batches, configs, repeats=args.repeats,
                      progress=None if args.json else (lambda text: print(f"  measuring {text}", flush=True)))
    out["command"] = "hrgcnet " + " ".join(sys.argv[1:])
    out["date"] = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
    if args.json:
        print(json.dumps(out))
        return 0
    print(_machine_line(out["machine"]))
    print(f"{'model':<12} {'input':<8} {'config':<11} {'batch':>5} {'ms':>8} {'ms/crop':>8} {'floor ms':>8} "
          f"{'speedup':>7}")
    for r in out["rows"]:
        key = f"{r['model']} {r['input_size']} {r['config']} b{r['batch']}"
        print(f"{r['model']:<12} {r['input_size']:<8} {r['config']:<11} {r['batch']:>5} {r['ms']:>8.2f} "
              f"{r['ms_per_crop']:>8.2f} {r['conv_floor_ms']:>8.2f} {out['ratios']['speedup'].get(key, 1.0):>6.2f}x")
    for f in out["frames"]:
        print(f"frame 640x480 {f['model']} {f['input_size']} {f['config']}, {f['persons']} person(s): "
              f"{f['total']:.1f} ms (load {f['load']:.1f}, detect {f['detect']:.1f}, pose {f['pose']:.1f}, "
              f"decode {f['decode']:.1f})")
    for name, values in out["ratios"].items():
        if name != "speedup":
            print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    return 0
