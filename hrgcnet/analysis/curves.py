"""Learning curves: validation AP against samples seen, read from training runs' ``log.jsonl``.

A run directory (``hrgcnet train --run-dir``) holds ``config.yaml`` and ``log.jsonl``; each periodic validation
is a ``"val"`` event with the step and the COCO summary on the config's ``val_ann``, and a ``"val_subset"`` event per
``val_subsets`` file. A row's ``split`` is the annotation file's stem (``val``, ``dev``). Samples seen = step x batch size x world size, plus the
samples its initial weights had seen (both from the run's ``"start"`` events). The default weights' curves are
committed as :data:`COMMITTED_CURVES` (``hrgcnet curves RUN_DIR... --out`` writes it), read by the Streamlit
evaluation page; runs whose earlier cycles' folders are gone are joined to those cycles' rows in it
(``hrgcnet curves hrgcnet/weights/learning_curves.csv RUN_DIR... --out``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..errors import DatasetError
from .evaluation import SUMMARY_KEYS

COLUMNS: tuple[str, ...] = ("model", "input_size", "split", "step", "samples_seen", *SUMMARY_KEYS)
#: The split of rows in CSVs written before the ``split`` column (they all validated on coco/val.json).
LEGACY_SPLIT = "val"
#: The learning curves of the committed default weights (package data, next to the weights' model card).
COMMITTED_CURVES = Path(__file__).resolve().parents[1] / "weights" / "learning_curves.csv"


def curves_from_run(run_dir: str | Path) -> list[dict]:
    """One row per validation of the run in ``run_dir`` (see :data:`COLUMNS`), in step order.

    Raises:
        DatasetError: no ``config.yaml`` / ``log.jsonl``, or a log line that is not JSON.
    """
    from ..config import load_config

    run = Path(run_dir)
    log = run / "log.jsonl"
    if not (run / "config.yaml").is_file() or not log.is_file():
        raise DatasetError(f"{run} is not a training run directory (needs config.yaml and log.jsonl)")
    cfg = load_config(run / "config.yaml")
    world_size, samples_before = 1, 0
    rows: dict[tuple[str, int], dict] = {}
    for number, line in enumerate(log.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            raise DatasetError(f"{log}:{number} is not a JSON line") from None
        if event.get("event") == "start":
            world_size = int(event.get("world_size") or 1)
            samples_before = int(event.get("samples_before") or 0)
        elif event.get("event") in ("val", "val_subset"):
            step = int(event["step"])
            split = Path(event.get("ann") or cfg.val_ann or LEGACY_SPLIT).stem
            rows[split, step] = {"model": cfg.model, "input_size": cfg.input_size, "split": split, "step": step,
                          "samples_seen": samples_before + step * cfg.batch_size * world_size,
                          **{k: round(float(event[k]), 4) for k in SUMMARY_KEYS if event.get(k) is not None}}
    return [rows[k] for k in sorted(rows, key=lambda k: (k[1], k[0]))]


def merge_curves(row_lists: list[list[dict]]) -> list[dict]:
    """All rows of ``row_lists`` (runs and earlier CSVs), each model's rows together (models in order of first
    appearance) and in ``samples_seen`` order, so cycles read from different sources join into one curve. A row
    that appears more than once with the same values (the same run merged into a CSV that already holds it, e.g.
    ``hrgcnet curves curves.csv RUN --out curves.csv`` run twice) is kept once."""
    rows, seen = [], set()
    for row in (row for rows in row_lists for row in rows):
        key = tuple(_same(row.get(k)) for k in COLUMNS)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    first = {}
    for row in rows:
        first.setdefault(row["model"], len(first))
    return sorted(rows, key=lambda r: (first[r["model"]], r["samples_seen"], r["split"]))


def _same(value):
    """A value as a CSV round trip leaves it (``curves_from_run`` rounds AP values to 4 digits; steps are ints)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def weights_samples_seen(weights_path: str | Path, meta: dict) -> int | None:
    """Samples the weights in ``weights_path`` (metadata ``meta``) had seen: their ``samples_seen``, else (weights
    written before that key) the run log next to them at their ``steps``; None when neither tells."""
    if meta.get("samples_seen") is not None:
        return int(meta["samples_seen"])
    if meta.get("steps") is None:
        return None
    try:
        rows = curves_from_run(Path(weights_path).parent)
    except DatasetError:
        return None
    return next((int(r["samples_seen"]) for r in rows if r["step"] == int(meta["steps"])), None)


def write_curves_csv(rows: list[dict], path: str | Path) -> Path:
    """Write ``rows`` (see :data:`COLUMNS`) as CSV; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_curves_csv(path: str | Path = COMMITTED_CURVES) -> list[dict]:
    """Rows of a learning-curve CSV with numbers parsed; [] when the file does not exist.

    Raises:
        DatasetError: a file without the columns of :data:`COLUMNS`.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or []) - {"split"}
        if missing:
            raise DatasetError(f"{path.name}: not a learning-curve CSV (missing columns {', '.join(sorted(missing))})")
        return [{"split": LEGACY_SPLIT, **{k: _parse(k, v) for k, v in row.items() if k in COLUMNS}} for row in reader]


def _parse(column: str, value: str | None) -> str | int | float | None:
    if column in ("model", "input_size", "split"):
        return value
    if value in ("", None):
        return None
    return int(float(value)) if column in ("step", "samples_seen") else float(value)
