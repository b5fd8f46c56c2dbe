"""``hrgcnet cache``: the OpenVINO cache listed, pruned by last use and cleared, and nothing else touched."""

from __future__ import annotations

import os
import time

import pytest
import torch
from torch import nn

from hrgcnet.cli import main

DAY = 86400


@pytest.fixture()
def filled(tmp_path, monkeypatch):
    """A cache with an old and a recent export, an old and a recent compiled blob, a killed export's folder, and
    two files that are not the cache's (a note, an IR without its weights)."""
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    root = tmp_path / "openvino"
    (root / "compiled").mkdir(parents=True)
    (root / ".export-123").mkdir()
    files = {"old.xml": 10, "old.bin": 1000, "new.xml": 10, "new.bin": 2000, "compiled/old.blob": 300,
             "compiled/new.blob": 400, ".export-123/model.onnx": 50, "notes.txt": 5, "orphan.xml": 7}
    for name, size in files.items():
        (root / name).write_bytes(b"x" * size)
    now = time.time()
    for name in ("old.xml", "old.bin", "compiled/old.blob", ".export-123"):
        os.utime(root / name, (now - 40 * DAY, now - 40 * DAY))
    return root


def test_lists_the_entries_least_recently_used_first_with_their_sizes(filled, capsys):
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    *lines, total = out.splitlines()
    names = [line.split()[-1] for line in lines]
    assert set(names[:3]) == {"old.xml", "compiled/old.blob", ".export-123"}  # 40 days ago
    assert set(names[3:]) == {"new.xml", "compiled/new.blob"}
    assert "2 exports (0.0 MB), 2 compiled blobs (0.0 MB), 1 unfinished export (0.0 MB)" in total
    assert "notes.txt" not in out and "orphan.xml" not in out


def test_unused_for_removes_only_what_was_not_used_for_so_long(filled, capsys):
    assert main(["cache", "--unused-for", "30", "--dry-run"]) == 0
    assert "would remove 3 of 5 entries" in capsys.readouterr().out
    assert (filled / "old.xml").exists() and (filled / "compiled" / "old.blob").exists()
    assert main(["cache", "--unused-for", "30"]) == 0
    assert "removed 3 of 5 entries" in capsys.readouterr().out
    left = {p.relative_to(filled).as_posix() for p in filled.rglob("*")}
    assert left == {"new.xml", "new.bin", "compiled", "compiled/new.blob", "notes.txt", "orphan.xml"}


def test_clear_removes_every_entry_and_nothing_else(filled, capsys):
    (filled / ".int8-456").mkdir()  # a quantization writing now, in another process: kept
    assert main(["cache", "--clear"]) == 0
    assert "removed 5 of 6 entries" in capsys.readouterr().out
    assert {p.relative_to(filled).as_posix() for p in filled.rglob("*")} == {"compiled", "notes.txt", "orphan.xml",
                                                                             ".int8-456"}


def test_bad_arguments_say_so(filled, capsys):
    assert main(["cache", "--unused-for", "-1"]) == 2
    assert main(["cache", "--dry-run"]) == 2
    assert "--dry-run goes with" in capsys.readouterr().err
    assert (filled / "old.xml").exists()


def test_reading_an_export_from_the_cache_marks_its_last_use(tmp_path, monkeypatch):
    from hrgcnet.backends.openvino import cached_ir

    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)).eval()
    xml, seconds = cached_ir(net, "tiny", (32, 32))
    assert seconds is not None
    os.utime(xml, (time.time() - 40 * DAY,) * 2)
    assert cached_ir(net, "tiny", (32, 32)) == (xml, None)
    assert time.time() - xml.stat().st_mtime < 60
    with torch.no_grad():
        net[0].weight.add_(1)  # another network state: another entry
    assert cached_ir(net, "tiny", (32, 32))[0] != xml
