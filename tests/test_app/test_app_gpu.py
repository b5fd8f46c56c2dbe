"""ZeroGPU support: the handlers that run the network go through ``spaces.GPU`` (a no-op off Spaces)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app import state

REPO = Path(__file__).resolve().parents[2]


def test_the_real_spaces_package_off_spaces_hands_the_function_back():
    spaces = pytest.importorskip("spaces")
    from spaces.config import Config

    def run(x):
        return x + 1

    assert not Config.zero_gpu and state.on_gpu(run) is run and spaces.GPU(run)(1) == 2


def test_without_spaces_nothing_changes(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # import fails, as where the package is not installed

    def run():
        return 1

    assert state.on_gpu(run) is run


def test_the_network_handlers_are_decorated(tmp_path):
    """A stand-in ``spaces`` records what it decorates (as ZeroGPU's would wrap them): predict, compare and
    attribution, and the decorated predict still answers (a user error here: no image)."""
    (tmp_path / "spaces.py").write_text(textwrap.dedent("""
        decorated = []

        def GPU(fn):
            decorated.append(fn.__name__)

            def on_gpu(*args, **kwargs):
                return fn(*args, **kwargs)
            return on_gpu
    """))
    code = textwrap.dedent("""
        import gradio as gr, spaces
        from app import handlers
        print(sorted(spaces.decorated))
        try:
            handlers.predict(None, "hrgcnet-w32", "128x96", "full", False, "", 0.3, 0.5, True, "instance_score")
        except gr.Error as exc:
            print(exc.message)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['attribution', 'compare', 'predict']" and lines[1].startswith("no image")
