"""scripts/campaign_report.py: a stretch's row of the campaign log from the runs' logs."""

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "campaign_report.py"
T0 = datetime(2026, 12, 7, 1, 50, tzinfo=timezone.utc).timestamp()


def write_run(root: Path, model: str, rate: float) -> None:
    """Two invocations: 10 minutes from step 0 (a stop), a 30-minute gap, 20 minutes from step 300; one
    validation (dev AP 0.2, val AP 0.25) at step 768."""
    events = [{"event": "start", "time": T0, "step": 0, "samples_before": 1000, "amp": "bfloat16"},
              {"event": "train", "time": T0 + 300, "step": 150, "samples_per_s": rate},
              {"event": "end", "time": T0 + 600, "step": 300},
              {"event": "start", "time": T0 + 2400, "step": 300, "samples_before": 1000, "amp": "bfloat16"},
              {"event": "train", "time": T0 + 3000, "step": 700, "samples_per_s": rate + 2},
              {"event": "val", "time": T0 + 3300, "step": 768, "AP": 0.2},
              {"event": "val_subset", "time": T0 + 3300, "step": 768, "ann": "val.json", "AP": 0.25},
              {"event": "train", "time": T0 + 3600, "step": 800, "samples_per_s": rate + 2}]
    (root / model).mkdir(parents=True)
    (root / model / "config.yaml").write_text("batch_size: 32\n")
    (root / model / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def test_a_stretch_restarted_within_a_session(tmp_path):
    write_run(tmp_path, "a", 20.0)
    write_run(tmp_path, "b", 24.0)
    (tmp_path / "stretches.jsonl").write_text(
        json.dumps({"time": "2026-12-07T01:50:00Z", "flags": "avx2 amx_bf16", "cpu": "Xeon"}) + "\n"
        + json.dumps({"time": "2026-12-07T02:30:00Z", "flags": "avx2 amx_bf16", "cpu": "Xeon"}) + "\n")
    out = subprocess.run([sys.executable, SCRIPT, "--since", "2026-12-07T01:50", str(tmp_path), "a", "b"],
                         capture_output=True, text=True, check=True).stdout
    # minutes count the invocations (10 + 20), not the gap; 800 steps x 32 samples added
    assert "| 2026-12-07T01:50 | avx2 amx_bf16 | 30 / 30 | 22.0 / 26.0 | 25,600 / 25,600 | 26,600 / 26,600 " \
           "| 0.200 / 0.200 | 0.250 / 0.250 | |" in out
    # without --since: the last invocation only, and the last machine record
    out = subprocess.run([sys.executable, SCRIPT, str(tmp_path), "a", "b"], capture_output=True, text=True,
                         check=True).stdout
    assert "| 2026-12-07T02:30 | avx2 amx_bf16 | 20 / 20 | 22.0 / 26.0 | 16,000 / 16,000 |" in out
    # --until: the first invocation only (a past stretch with a later one after it)
    out = subprocess.run([sys.executable, SCRIPT, "--since", "2026-12-07T01:50", "--until", "2026-12-07T02:20",
                          str(tmp_path), "a", "b"], capture_output=True, text=True, check=True).stdout
    assert "| 2026-12-07T01:50 | avx2 amx_bf16 | 10 / 10 | 20.0 / 24.0 | 9,600 / 9,600 |" in out
