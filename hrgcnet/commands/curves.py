"""``hrgcnet curves``: validation AP against samples seen, from training runs, as a table or CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analysis.curves import COMMITTED_CURVES, curves_from_run, merge_curves, read_curves_csv, write_curves_csv
from ..analysis.evaluation import SUMMARY_KEYS
from ..errors import DatasetError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("curves", help="learning curves (validation AP vs samples seen, per split) of training runs",
                              description="Reads the periodic validations in RUN_DIR/log.jsonl of each run, and "
                                          "the rows of earlier curves from CSV files (runs whose folders are gone); "
                                          "each model's rows come out together, in samples-seen order.")
    p.add_argument("sources", nargs="+", metavar="RUN_DIR|CSV",
                   help="training run directories (hrgcnet train --run-dir) or curve CSVs (hrgcnet curves --out)")
    p.add_argument("--out", metavar="CSV", help=f"write the rows as CSV (the committed curves: {COMMITTED_CURVES})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = merge_curves([_rows(source) for source in args.sources])
    print(f"{'model':<20} {'input':<8} {'split':<6} {'step':>7} {'samples':>9} "
          + " ".join(f"{k:>6}" for k in SUMMARY_KEYS))
    for r in rows:
        print(f"{r['model']:<20} {r['input_size']:<8} {r['split']:<6} {r['step']:>7} {r['samples_seen']:>9} "
              + " ".join(f"{_number(r.get(k)):>6.3f}" for k in SUMMARY_KEYS))
    if args.out:
        print(f"wrote {write_curves_csv(rows, args.out)} ({len(rows)} rows)")
    return 0


def _rows(source: str) -> list[dict]:
    path = Path(source)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise DatasetError(f"{source}: no such curve CSV")
        return read_curves_csv(path)
    return curves_from_run(path)


def _number(value: float | None) -> float:
    return float("nan") if value is None else value
