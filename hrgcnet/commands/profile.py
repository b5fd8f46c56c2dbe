"""``hrgcnet profile``: parameters and GFLOPs (MACs / 2^30, the official HRNet convention)."""

from __future__ import annotations

import argparse
import json

from ..models.profile import PAPER_TABLE1, parse_input_size, profile_model
from ..models.registry import get_spec, list_models


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("profile", help="count parameters and GFLOPs (MACs/2^30)",
                              description="Count parameters and multiply-accumulates; gflops = MACs / 2^30, the "
                                          "official HRNet convention behind its '7.1G'.")
    p.add_argument("--model", default="hrgcnet-w32", help="model name (see `hrgcnet models`)")
    p.add_argument("--input-size", default="256x192", help="HxW, multiples of 32 (default 256x192)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--table", action="store_true", help="every model at 256x192 and 384x288 beside the paper's Table I")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.table:
        rows = [profile_model(name, parse_input_size(size)) for size in ("256x192", "384x288") for name in list_models()]
        for row in rows:
            row["paper"] = PAPER_TABLE1.get((row["model"], row["input_size"]))
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        print(f"{'model':<20} {'input':<8} {'params':>12} {'GFLOPs':>7} | {'paper params':>12} {'paper GFLOPs':>12} {'paper AP':>8}")
        for row in rows:
            paper = row["paper"] or {}
            print(f"{row['model']:<20} {row['input_size']:<8} {row['params']:>12,} {row['gflops']:>7.3f} | "
                  f"{_fmt(paper.get('params_m'), 'M'):>12} {_fmt(paper.get('gflops'), 'G'):>12} {_fmt(paper.get('ap'), ''):>8}")
        print("GFLOPs = MACs / 2^30 (official HRNet convention); paper values from Table I of the HRGCNet paper.")
        return 0
    get_spec(args.model)  # unknown name -> UsageError before any work
    row = profile_model(args.model, parse_input_size(args.input_size))
    if args.json:
        print(json.dumps(row))
    else:
        print(f"{row['model']} {row['input_size']}: {row['params']:,} params, {row['macs']:,} MACs, "
              f"{row['gflops']:.3f} GFLOPs ({row['gflops_convention']})")
    return 0


def _fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value}{unit}"
