"""The current training stretch of the campaign (``scripts/campaign.sh``) as one row of the campaign log.

    python scripts/campaign_report.py [--since YYYY-MM-DDTHH:MM] [--until YYYY-MM-DDTHH:MM] CAMPAIGN_DIR MODEL ...

A stretch is everything in ``CAMPAIGN_DIR/MODEL/log.jsonl`` since its last ``start`` event (one invocation of
``hrgcnet train``), or since the first start at or after ``--since`` (UTC; a stretch stopped and resumed), and
before ``--until`` (a past stretch, e.g. one cut short by a machine restart, with later stretches after it). Prints,
per model: minutes, samples added and seen in all, the training-step rate (samples/s over the optimiser steps, as
the log's ``train`` events measure it) and the wall rate (samples added / minutes, validation included), and the
last and best validation (EMA weights, dev.json and the val.json subset); then the row for
docs/training/campaign.md.
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import yaml


def stretch(log: Path, since: float | None = None, until: float | None = None) -> dict:
    """Summary of the events of ``log`` since its last ``start`` event, or since the first ``start`` at or after
    ``since`` (a stretch restarted within a session), and before ``until``; minutes count the invocations' own
    time only."""
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    events = [e for e in events if until is None or e["time"] < until]
    starts = [i for i, e in enumerate(events) if e["event"] == "start" and (since is None or e["time"] >= since)]
    if not starts:
        raise SystemExit(f"{log}: no start event{' since then' if since else ''}")
    first = starts[0] if since is not None else starts[-1]
    start, events = events[first], events[first:]
    runs: list[list[dict]] = []  # one list of events per invocation
    for e in events:
        if e["event"] == "start":
            runs.append([])
        runs[-1].append(e)
    steps = [e["step"] for e in events if "step" in e]
    batch = yaml.safe_load((log.parent / "config.yaml").read_text())["batch_size"]  # the run's own
    vals = [e for e in events if e["event"] == "val"]
    subsets = {e["step"]: e for e in events if e["event"] == "val_subset"}
    rates = [e["samples_per_s"] for e in events if e["event"] == "train"]
    minutes = sum(run[-1]["time"] - run[0]["time"] for run in runs) / 60
    added = (max(steps) - start["step"]) * batch
    best = max(vals, key=lambda e: e["AP"] or 0.0, default=None)
    return {
        "minutes": minutes, "added": added, "seen": start["samples_before"] + max(steps) * batch,
        "step_rate": statistics.median(rates) if rates else None,
        "wall_rate": added / (minutes * 60) if minutes > 0 else None,
        "amp": start.get("amp"), "running": events[-1]["event"] != "end",
        "last": vals[-1] if vals else None, "best": best,
        "last_val": subsets.get(vals[-1]["step"]) if vals else None,
    }


def fmt(value, spec=".3f") -> str:
    return "–" if value is None else format(value, spec)


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def main(argv: list[str]) -> int:
    since = until = None
    while argv[:1] in (["--since"], ["--until"]) and len(argv) > 1:
        if argv[0] == "--since":
            since = _utc(argv[1])
        else:
            until = _utc(argv[1])
        argv = argv[2:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root, models = Path(argv[0]), argv[1:]
    machine = {}
    if (root / "stretches.jsonl").is_file():
        records = [json.loads(line) for line in (root / "stretches.jsonl").read_text().splitlines() if line.strip()]
        after = [r for r in records if since is None or datetime.fromisoformat(r["time"].replace("Z", "+00:00"))
                 .timestamp() >= since]
        machine = (after[0] if since is not None and after else records[-1]) if records else {}
    print(f"machine: {machine.get('cpu', '?')}; flags: {machine.get('flags', '?')}; started {machine.get('time', '?')}")
    rows = {}
    for model in models:
        log = root / model / "log.jsonl"
        if not log.is_file():
            print(f"{model}: no run at {log.parent}")
            continue
        s = rows[model] = stretch(log, since, until)
        last, best, sub = s["last"], s["best"], s["last_val"]
        print(f"{model}: {'running, ' if s['running'] else ''}{s['minutes']:.1f} min, +{s['added']:,} samples "
              f"({s['seen']:,} seen), {fmt(s['step_rate'], '.1f')} samples/s in steps, "
              f"{fmt(s['wall_rate'], '.1f')} wall, amp {s['amp']}; "
              f"last val (EMA) dev {fmt(last and last['AP'])} val {fmt(sub and sub['AP'])} at step "
              f"{last['step'] if last else '–'}; best dev {fmt(best and best['AP'])}")
    if rows:
        cells = lambda key, spec: " / ".join(fmt(rows[m][key], spec) for m in rows)  # noqa: E731
        aps = " / ".join(fmt(rows[m]["last"] and rows[m]["last"]["AP"]) for m in rows)
        vals = " / ".join(fmt(rows[m]["last_val"] and rows[m]["last_val"]["AP"]) for m in rows)
        print(f"| {machine.get('time', '?')[:16]} | {machine.get('flags', '?')} | {cells('minutes', '.0f')} | "
              f"{cells('step_rate', '.1f')} | {cells('added', ',')} | {cells('seen', ',')} | {aps} | {vals} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
