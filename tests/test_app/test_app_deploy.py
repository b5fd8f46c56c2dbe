"""The Space deployment's file selection (``python -m app.deploy``), offline."""

import re

from app.deploy import REPO, main, space_files


def test_the_space_gets_what_it_runs_and_nothing_else():
    files = space_files()
    front = re.search(r"^---\n(.*?)\n---", (REPO / "README.md").read_text(), re.S).group(1)
    app_file = re.search(r"^app_file: (\S+)$", front, re.M).group(1)
    for needed in ("README.md", app_file, "requirements.txt", "constraints.txt", "app/ui.py", "hrgcnet/pipeline.py",
                   "hrgcnet/weights/hrgcnet-w32.safetensors", "hrgcnet/weights/nanodet-g.safetensors",
                   "assets/three_people.jpg"):
        assert needed in files, needed
    # what requirements.txt points at travels with it
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.startswith("-c "):
            assert line.split()[1] in files
    assert not [f for f in files if f.startswith(("tests/", "docs/", "scripts/", "pages/", ".ci/", "exports/"))]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert sum((REPO / f).stat().st_size for f in files) < 200 * 2**20


def test_offline_it_stops_at_once(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["someone/pose-space"]) == 2
    assert "needs the network" in capsys.readouterr().err


def test_dry_run_lists_the_files(capsys):
    assert main(["someone/pose-space", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("MiB") and out[1:] == space_files()
