"""``hrgcnet models``: model names, presets and whether committed weights exist."""

from __future__ import annotations

import argparse
import json

from ..models.registry import MODELS, preset_description
from ..models.weights import default_weights_path, read_metadata


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list model names, presets and available weights")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def model_rows() -> list[dict]:
    rows = []
    for name, spec in MODELS.items():
        path = default_weights_path(name)
        meta = read_metadata(path) if path else {}
        rows.append({"model": name, "label": spec.label, "preset": spec.preset or "-",
                     "description": preset_description(name), "weights": path is not None,
                     "weights_ap": meta.get("ap")})
    return rows


def run(args: argparse.Namespace) -> int:
    rows = model_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        weights = "weights: yes" + (f" (val AP {r['weights_ap']})" if r["weights_ap"] is not None else "") if r["weights"] \
            else "weights: none (untrained)"
        print(f"{r['model']:<20} preset={r['preset']:<7} {weights}\n    {r['description']}")
    return 0
