"""`hrgcnet predict`: outputs, exit codes and messages for scripts (random weights, small input)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hrgcnet.cli import main

TWO_PERSONS = "000000192699.jpg"
ONE_LARGE_PERSON = "000000368212.jpg"
FAST = ["--weights", "none", "--input-size", "128x96", "--no-flip", "--device", "cpu", "--no-progress"]



@pytest.fixture
def photos(coco_val, tmp_path) -> Path:
    _, images = coco_val
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in (TWO_PERSONS, ONE_LARGE_PERSON):
        shutil.copy(images / name, folder / name)
    return folder


def test_folder_to_json_and_drawings(photos, tmp_path, capsys):
    out_json, vis = tmp_path / "out" / "res.json", tmp_path / "vis"
    rc = main(["predict", str(photos), "--detector", "full", "--json", str(out_json), "--save-vis", str(vis), *FAST])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = json.loads(out_json.read_text())
    assert {r["image_id"] for r in rows} == {192699, 368212}  # ids from the COCO file names
    for r in rows:
        assert {"image_id", "category_id", "keypoints", "score", "file_name"} == set(r)
        assert r["category_id"] == 1 and len(r["keypoints"]) == 51
    assert sorted(p.name for p in vis.iterdir()) == ["000000192699.jpg", "000000368212.jpg"]
    drawn = np.asarray(Image.open(vis / "000000192699.jpg"))
    assert drawn.shape == np.asarray(Image.open(photos / TWO_PERSONS)).shape
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2 and all("1 person(s)" in line for line in lines)
    assert "note: untrained weights" in captured.err  # --weights none


def test_boxes_json_detector_and_json_to_stdout(photos, tmp_path, capsys):
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([
        {"image_id": 192699, "category_id": 1, "bbox": [0, 201, 315, 250], "score": 0.95},
        {"image_id": 192699, "category_id": 1, "bbox": [258, 42, 267, 415], "score": 0.9},
    ]))
    rc = main(["predict", str(photos / TWO_PERSONS), "--detector", str(dets), "--json", "-", *FAST])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = json.loads(captured.out)  # stdout holds only the JSON
    assert len(rows) == 2 and {r["image_id"] for r in rows} == {192699}
    assert "2 person(s)" in captured.err


def test_some_images_fail_exit_1_with_one_line_each(photos, capsys):
    (photos / "broken.jpg").write_text("not an image")
    (photos / "empty.png").write_bytes(b"")
    rc = main(["predict", str(photos), "--detector", "full", *FAST])
    captured = capsys.readouterr()
    assert rc == 1
    errors = [line for line in captured.err.splitlines() if ": error: " in line]
    assert sorted(errors) == sorted([f"{photos / 'broken.jpg'}: error: not an image file (format not recognised)",
                                     f"{photos / 'empty.png'}: error: empty file (0 bytes)"])
    assert "2 of 4 image(s) failed" in captured.err
    assert len(captured.out.strip().splitlines()) == 2  # the good images were still done


@pytest.mark.parametrize("args, message", [
    (["/no/such/dir"], "/no/such/dir: no such file or folder"),
    (["--model", "hrgcnet-w99"], "unknown model 'hrgcnet-w99'"),
    (["--input-size", "100x96"], "multiples of 32"),
    (["--detector", "hog"], "unknown detector 'hog'"),
    (["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "tpu"], "not available|unknown device"),
])
def test_user_errors_exit_2(photos, capsys, args, message):
    base = [str(photos)] if not args[0].startswith("/") else []
    rc = main(["predict", *base, *args, "--weights", "none", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 2
    assert re.search(message, captured.err), captured.err
    assert "Traceback" not in captured.err


def test_only_empty_files_fail_before_any_model_loads(tmp_path, capsys, monkeypatch):
    """Nothing to predict: the run ends at once (no model, no detector), exit 1, the JSON written empty."""
    import hrgcnet.pipeline

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(hrgcnet.pipeline, "PoseEstimator", no_model)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert main(["predict", str(empty), "--json", str(tmp_path / "out.json")]) == 1
    assert f"{empty}: error: empty file (0 bytes)" in capsys.readouterr().err
    assert json.loads((tmp_path / "out.json").read_text()) == []


def test_empty_folder_is_a_user_error(tmp_path, capsys):
    assert main(["predict", str(tmp_path)]) == 2
    assert "folder contains no images" in capsys.readouterr().err


def test_yolo_offline_falls_back_and_says_so(photos, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path / "cache"))
    rc = main(["predict", str(photos / ONE_LARGE_PERSON), "--detector", "yolo", *FAST])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "note: detector 'yolo' unavailable" in captured.err and "YOLO_OFFLINE" in captured.err


def test_default_detector_offline_is_nanodet_without_a_note(photos, monkeypatch, capsys):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    rc = main(["predict", str(photos / TWO_PERSONS), *FAST])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "unavailable" not in captured.err  # offline, NanoDet-g is the normal detector, not a fallback
    assert re.search(r": 2 person\(s\), detect", captured.out), captured.out


def test_console_script_exit_code_and_progress_bar(photos):
    proc = subprocess.run([sys.executable, "-m", "hrgcnet", "predict", str(photos), "--detector", "full",
                           "--weights", "none", "--input-size", "128x96", "--no-flip", "--device", "cpu"],
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "predict" in proc.stderr and "2/2" in proc.stderr  # tqdm bar for folders on stderr
    assert len(proc.stdout.strip().splitlines()) == 2


def test_save_vis_never_replaces_inputs_or_existing_files(photos, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    # The input folder itself, or a drawing that would land on an input image: usage errors before any work.
    assert main(["predict", str(photos), "--detector", "full", "--save-vis", str(photos), *FAST]) == 2
    assert "is an input folder" in capsys.readouterr().err
    assert main(["predict", str(photos / TWO_PERSONS), "--detector", "full", "--save-vis", str(photos), *FAST]) == 2
    assert "would replace that input image" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before
    # A name already taken (an earlier run, another file): the next free name, said on stderr; the file is kept.
    vis = tmp_path / "vis"
    vis.mkdir()
    (vis / "000000192699.jpg").write_bytes(b"someone else's file")
    rc = main(["predict", str(photos), "--detector", "full", "--save-vis", str(vis), *FAST])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert (vis / "000000192699.jpg").read_bytes() == b"someone else's file"
    assert sorted(p.name for p in vis.iterdir()) == ["000000192699.jpg", "000000192699_1.jpg", "000000368212.jpg"]
    assert f"note: drawing written to {vis / '000000192699_1.jpg'}" in captured.err
    assert np.asarray(Image.open(vis / "000000192699_1.jpg")).ndim == 3
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before


def test_json_output_checked_first_and_written_atomically(photos, tmp_path, capsys, monkeypatch, disk_full):
    image = str(photos / ONE_LARGE_PERSON)
    with monkeypatch.context() as m:  # these must fail before a model is even built
        m.setattr("hrgcnet.pipeline.PoseEstimator", lambda *a, **k: pytest.fail("predicted before checking --json"))
        for out, message in ((tmp_path, "is a folder"), (photos / ONE_LARGE_PERSON, "it would be replaced")):
            assert main(["predict", image, "--detector", "full", "--json", str(out), *FAST]) == 2
            err = capsys.readouterr().err
            assert message in err and "Traceback" not in err, err
    assert (photos / ONE_LARGE_PERSON).stat().st_size > 1000
    # A write that fails midway (disk full): one error line, the earlier file intact, no temporary file left.
    out = tmp_path / "res.json"
    out.write_text("[]")
    disk_full(tmp_path)
    assert main(["predict", image, "--detector", "full", "--json", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {out}: No space left on device" in err and "Traceback" not in err, err
    assert out.read_text() == "[]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "res.json"]
