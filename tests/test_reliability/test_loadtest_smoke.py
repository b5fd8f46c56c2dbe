"""The load test's smoke version (``scripts/loadtest.py --smoke``: 3 clients x 2 requests against a locally
started app) runs in the normal suite; the full 16 x 10 run is a separate command (docs/reliability.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_loadtest_smoke(tmp_path, shared_data):
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "loadtest.py"), "--smoke", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["requests"] == 6 and report["failures"] == 0 and report["server_alive"]
    assert 0 < report["latency_s"]["p50"] <= report["latency_s"]["p95"]
    assert report["rss_mb"]["after_warmup"] > 0 and "growth_after_warmup" in report["rss_mb"]
    assert "failures: 0" in proc.stdout and "p95" in proc.stdout


def test_loadtest_counts_failures(tmp_path, monkeypatch):
    """A request that fails is counted and its error kept, not hidden."""
    import gradio_client

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import loadtest
    finally:
        sys.path.remove(str(REPO / "scripts"))

    class FailingClient:
        def __init__(self, *args, **kwargs):
            pass

        def predict(self, *args, **kwargs):
            raise RuntimeError("queue is full")

    monkeypatch.setattr(gradio_client, "Client", FailingClient)
    image = tmp_path / "a.jpg"
    image.write_bytes(b"")
    records = loadtest.one_client("http://127.0.0.1:1/", [(image, 0)], 3, loadtest.parse_args(["--smoke"]), 0)
    assert [r["ok"] for r in records] == [False] * 3
    assert records[0]["error"] == "RuntimeError: queue is full"


def test_loadtest_retries_a_client_side_cancel_once(tmp_path, monkeypatch):
    """gradio_client's own CancelledError (its SSE reader closing under the next submission) is retried once and
    counted; a second one in a row is a failure."""
    from concurrent.futures import CancelledError

    import gradio_client

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import loadtest
    finally:
        sys.path.remove(str(REPO / "scripts"))
    plan = []

    class FlakyClient:
        def __init__(self, *args, **kwargs):
            pass

        def predict(self, *args, api_name):
            if plan.pop(0):
                raise CancelledError()
            return (None, {"data": [[0]]}) if api_name == "/predict" else None

    monkeypatch.setattr(gradio_client, "Client", FlakyClient)
    image = tmp_path / "a.jpg"
    image.write_bytes(b"")
    args = loadtest.parse_args(["--smoke"])
    plan[:] = [True, False, False]  # predict cancelled once, retried; redraw fine
    (record,) = loadtest.one_client("http://127.0.0.1:1/", [(image, 1)], 1, args, 0)
    assert record["ok"] and record["client_retries"] == ["/predict"] and record["persons"] == 1
    plan[:] = [True, True]
    (record,) = loadtest.one_client("http://127.0.0.1:1/", [(image, 1)], 1, args, 0)
    assert not record["ok"] and record["error"].startswith("CancelledError")
