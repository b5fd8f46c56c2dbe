import json

import pytest

from hrgcnet.analysis.curves import (COLUMNS, COMMITTED_CURVES, curves_from_run, read_curves_csv, weights_samples_seen,
                                    write_curves_csv)
from hrgcnet.cli import main
from hrgcnet.config import TrainConfig, save_config
from hrgcnet.errors import DatasetError


def make_run(tmp_path, name="run", world_size=2, vals=((64, 0.1), (128, 0.25)), samples_before=0):
    run = tmp_path / name
    run.mkdir()
    save_config(TrainConfig(model="hrnet-w32", input_size="128x96", batch_size=16), run / "config.yaml")
    events = [{"event": "start", "step": 0, "world_size": world_size, "samples_before": samples_before},
              {"event": "train", "step": 10, "loss": 1.0}]
    events += [{"event": "val", "step": step, "AP": ap, "AP50": 2 * ap, "AP75": ap / 2, "APM": ap, "APL": ap,
                "AR": ap + 0.01} for step, ap in vals]
    (run / "log.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return run


def test_rows_from_a_run(tmp_path):
    rows = curves_from_run(make_run(tmp_path))
    assert [(r["step"], r["samples_seen"], r["AP"]) for r in rows] == [(64, 64 * 16 * 2, 0.1), (128, 128 * 32, 0.25)]
    assert rows[0]["model"] == "hrnet-w32" and rows[0]["input_size"] == "128x96" and rows[1]["AR"] == 0.26


def test_a_run_from_trained_weights_counts_their_samples(tmp_path):
    rows = curves_from_run(make_run(tmp_path, world_size=1, vals=((64, 0.1),), samples_before=5000))
    assert [r["samples_seen"] for r in rows] == [5000 + 64 * 16]


def test_samples_seen_of_weights_from_metadata_else_their_run(tmp_path):
    """Weights written before the ``samples_seen`` key get it from the run log next to them (export, --init-from)."""
    weights = make_run(tmp_path, world_size=1) / "best.safetensors"
    assert weights_samples_seen(weights, {"samples_seen": "7", "steps": 64}) == 7
    assert weights_samples_seen(weights, {"steps": "128"}) == 128 * 16
    assert weights_samples_seen(weights, {"steps": 100}) is None  # no validation at that step
    assert weights_samples_seen(tmp_path / "elsewhere.safetensors", {"steps": 64}) is None  # not in a run
    assert weights_samples_seen(weights, {}) is None


def test_a_resumed_run_keeps_one_row_per_step(tmp_path):
    """A validation repeated after a resume (same step) is counted once, the last one kept."""
    run = make_run(tmp_path, world_size=1, vals=((64, 0.1), (64, 0.12), (32, 0.05)))
    assert [(r["step"], r["AP"]) for r in curves_from_run(run)] == [(32, 0.05), (64, 0.12)]


def test_csv_round_trip_and_cli(tmp_path, capsys):
    runs = [make_run(tmp_path, "a"), make_run(tmp_path, "b", vals=((64, 0.3),))]
    out = tmp_path / "curves.csv"
    assert main(["curves", *map(str, runs), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    rows = read_curves_csv(out)
    assert len(rows) == 3 and set(rows[0]) == set(COLUMNS)
    # one model's rows in samples-seen order (a: 2048 and 4096 samples, b: 2048)
    assert [(r["samples_seen"], r["AP"]) for r in rows] == [(64 * 32, 0.1), (64 * 32, 0.3), (128 * 32, 0.25)]
    assert read_curves_csv(tmp_path / "missing.csv") == []


def test_runs_join_earlier_cycles_from_a_csv(tmp_path, capsys):
    """A new cycle's run (its folder the only one left) continues the rows of the earlier cycles' CSV: each model's
    rows together, in samples-seen order, whatever order the sources come in."""
    old = tmp_path / "old.csv"
    write_curves_csv([{"model": "hrgcnet-w32", "input_size": "128x96", "step": 64, "samples_seen": 1024, "AP": 0.1},
                      {"model": "hrnet-w32", "input_size": "128x96", "step": 64, "samples_seen": 1024, "AP": 0.2}], old)
    new = make_run(tmp_path, "new", world_size=1, vals=((64, 0.4),), samples_before=1024)  # an hrnet-w32 run
    out = tmp_path / "curves.csv"
    assert main(["curves", str(new), str(old), "--out", str(out)]) == 0
    rows = read_curves_csv(out)
    assert [(r["model"], r["samples_seen"], r["AP"]) for r in rows] == [
        ("hrnet-w32", 1024, 0.2), ("hrnet-w32", 1024 + 64 * 16, 0.4), ("hrgcnet-w32", 1024, 0.1)]
    assert isinstance(rows[0]["step"], int) and isinstance(rows[0]["samples_seen"], int)
    assert main(["curves", str(tmp_path / "gone.csv")]) == 2
    assert "gone.csv: no such curve CSV" in capsys.readouterr().err


def test_bad_inputs(tmp_path):
    with pytest.raises(DatasetError, match="not a training run directory"):
        curves_from_run(tmp_path)
    run = make_run(tmp_path)
    (run / "log.jsonl").write_text('{"event": "val"\n')
    with pytest.raises(DatasetError, match="log.jsonl:1 is not a JSON line"):
        curves_from_run(run)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="missing columns"):
        read_curves_csv(bad)
    write_curves_csv([], tmp_path / "empty.csv")
    assert read_curves_csv(tmp_path / "empty.csv") == []


def test_committed_curves_cover_both_default_models():
    rows = read_curves_csv(COMMITTED_CURVES)
    assert {r["model"] for r in rows} == {"hrgcnet-w32", "hrnet-w32"}
    assert all(0 <= r["AP"] <= 1 and r["samples_seen"] > 0 for r in rows)


def test_merging_a_run_into_a_csv_that_holds_it_twice_keeps_one_row_per_point(tmp_path, capsys):
    """The README's ``hrgcnet curves curves.csv RUN --out curves.csv`` run twice (or the same run given twice)
    must not duplicate the run's rows; a different point (other AP at the same step) is kept."""
    run = make_run(tmp_path, world_size=1, vals=((64, 0.1234), (128, 0.25)))
    out = tmp_path / "curves.csv"
    assert main(["curves", str(run), "--out", str(out)]) == 0
    for _ in range(2):
        assert main(["curves", str(out), str(run), "--out", str(out)]) == 0
    assert [(r["step"], r["AP"]) for r in read_curves_csv(out)] == [(64, 0.1234), (128, 0.25)]
    other = make_run(tmp_path, "other", world_size=1, vals=((64, 0.3),))
    assert main(["curves", str(out), str(run), str(other), "--out", str(out)]) == 0
    assert [(r["step"], r["AP"]) for r in read_curves_csv(out)] == [(64, 0.1234), (64, 0.3), (128, 0.25)]
