"""``hrgcnet curves``: validation AP against samples seen, from training runs, as a table or CSV."""

from __future__ import annotations

import argparse

from ..analysis.curves import COMMITTED_CURVES, curves_from_run, write_curves_csv
from ..analysis.evaluation import SUMMARY_KEYS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("curves", help="learning curves (val AP vs samples seen) of training runs",
                              description="Reads the periodic validations in RUN_DIR/log.jsonl of each run.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="training run directories (hrgcnet train --run-dir)")
    p.add_argument("--out", metavar="CSV", help=f"write the rows as CSV (the committed curves: {COMMITTED_CURVES})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = [row for run_dir in args.run_dirs for row in curves_from_run(run_dir)]
    print(f"{'model':<20} {'input':<8} {'step':>7} {'samples':>9} " + " ".join(f"{k:>6}" for k in SUMMARY_KEYS))
    for r in rows:
        print(f"{r['model']:<20} {r['input_size']:<8} {r['step']:>7} {r['samples_seen']:>9} "
              + " ".join(f"{r.get(k, float('nan')):>6.3f}" for k in SUMMARY_KEYS))
    if args.out:
        print(f"wrote {write_curves_csv(rows, args.out)} ({len(rows)} rows)")
    return 0
