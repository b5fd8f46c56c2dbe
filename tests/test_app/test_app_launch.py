"""Launching: ``python -m app`` (flags, ``PORT``), the Procfile, the Hugging Face Spaces entry point, and
the example images."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import httpx
import pytest

from app.__main__ import DEFAULT_HOST, DEFAULT_PORT, parse_args
from app.ui import ASSETS_DIR, EXAMPLES

REPO = Path(__file__).resolve().parents[2]


def test_arguments(monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    args = parse_args([])
    assert (args.host, args.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 7860)
    monkeypatch.setenv("PORT", "8123")
    assert parse_args([]).port == 8123
    assert parse_args(["--port", "9000", "--host", "0.0.0.0"]).port == 9000


def test_procfile_binds_port():
    assert (REPO / "Procfile").read_text().strip() == "web: python -m app --host 0.0.0.0 --port $PORT"


def test_spaces_entry_point_builds_the_same_app():
    front = (REPO / "README.md").read_text().split("---")[1]
    assert "sdk: gradio" in front and "app_file: spaces_app.py" in front
    sys.path.insert(0, str(REPO))
    import spaces_app

    assert isinstance(spaces_app.demo, gr.Blocks)
    assert {fn.api_name for fn in spaces_app.demo.fns.values()} >= {
        "predict", "redraw", "compare", "redraw_compare", "heatmaps", "attention", "attribution", "model_card", "live"}


def test_python_m_app_serves_on_port_from_env(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PORT=str(port), YOLO_OFFLINE="1", HF_HUB_OFFLINE="1")
    env.pop("GRADIO_ANALYTICS_ENABLED", None)  # the app turns analytics off by itself
    log = tmp_path / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert status == 200, f"app did not answer on port {port}:\n{log.read_text()[-3000:]}"
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).json()
        assert config["title"] == "HRGCNet pose estimation"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_are_small_and_documented(name):
    path = ASSETS_DIR / name
    assert path.is_file() and path.stat().st_size < 300_000
    assert f"`{name}`" in (ASSETS_DIR / "README.md").read_text()


def test_malloc_arenas_are_capped_where_glibc_is():
    import platform

    from app import state

    assert state.limit_malloc_arenas(0) is False  # 0 leaves glibc's default
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert state.limit_malloc_arenas(state.MALLOC_ARENAS) is True
