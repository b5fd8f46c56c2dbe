"""Bad inputs through ``hrgcnet predict`` and ``hrgcnet eval`` (in-process ``hrgcnet.cli.main``).

Contract: exit 0 when every image is done; 1 when some images failed, with one ``PATH: error: ...`` line
each on stderr (no traceback); 2 for a usage error (unknown model, bad weights, malformed annotation file,
missing images), one ``hrgcnet <command>: error: ...`` line.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from hrgcnet.cli import main

FAST = ["--weights", "none", "--input-size", "64x64", "--no-flip", "--device", "cpu", "--no-progress",
        "--detector", "full"]


def test_predict_every_bad_file_in_one_folder(bad_files, tmp_path, capsys):
    folder = tmp_path / "inputs"
    folder.mkdir()
    for path, _ in bad_files.values():
        if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".gif", ".webp"):
            (folder / path.name).write_bytes(path.read_bytes())
    out_json = tmp_path / "res.json"
    rc = main(["predict", str(folder), "--json", str(out_json), *FAST])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "Traceback" not in err
    rows = json.loads(out_json.read_text())
    done = {os.path.basename(r["file_name"]) for r in rows}
    for kind, (path, outcome) in bad_files.items():
        if not (folder / path.name).exists():
            continue
        if outcome.ok:
            assert path.name in done, (kind, err)
            if outcome.note:
                assert any(path.name in line and "note:" in line and outcome.note in line.lower()
                           for line in err.splitlines()), (kind, err)
        else:
            lines = [line for line in err.splitlines() if path.name in line and ": error: " in line]
            assert len(lines) == 1 and outcome.message in lines[0].lower(), (kind, err)
    failed = sum(1 for p, o in bad_files.values() if not o.ok and (folder / p.name).exists())
    assert f"{failed} of {len(list(folder.iterdir()))} image(s) failed" in err


@pytest.mark.parametrize("kind", ["text_file", "pdf", "zero_byte"])
def test_predict_single_bad_file(kind, bad_files, capsys):
    path, outcome = bad_files[kind]
    rc = main(["predict", str(path), *FAST])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert f"{path}: error:" in err and outcome.message in err.lower()


@pytest.fixture(scope="module")
def bad_weights(tmp_path_factory):
    from safetensors.torch import save_file
    import torch

    folder = tmp_path_factory.mktemp("cli_weights")
    save_file({"conv.weight": torch.zeros(2, 3, 1, 1)}, str(folder / "other.safetensors"))
    data = (folder / "other.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(data[:40])

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {folder / 'pwned'}",))

    (folder / "evil.pth").write_bytes(pickle.dumps({"state_dict": RunsCode()}))
    return folder


@pytest.mark.parametrize("args, message", [
    (["--model", "hrnet-w99"], "unknown model 'hrnet-w99'"),
    (["--weights", "{w}/other.safetensors"], "does not match the model"),
    (["--weights", "{w}/truncated.safetensors"], "truncated"),
    (["--weights", "{w}/evil.pth"], "refused"),
    (["--input-size", "100x50"], "multiples of 32"),
    (["--detector", "nonsense"], "unknown detector"),
])
def test_predict_usage_errors(args, message, bad_files, bad_weights, capsys):
    path, _ = bad_files["one_pixel"]
    args = [a.format(w=bad_weights) for a in args]
    base = [a for a in FAST]
    for flag in ("--weights", "--input-size", "--detector"):
        if flag in args:  # the case's value replaces the fast default
            i = base.index(flag)
            del base[i:i + 2]
    rc = main(["predict", str(path), *base, *args])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("hrgcnet predict: error:") and message in err and "Traceback" not in err
    assert not (bad_weights / "pwned").exists()


def test_predict_missing_path(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nope.jpg"), *FAST]) == 2
    assert "no such file or folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------- eval

def _coco(tmp_path, images: list[dict], annotations: list[dict]) -> str:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person"}]}))
    return str(path)


def _person(image_id: int, bbox=(10, 10, 40, 80), n_kpts: int = 17) -> dict:
    return {"id": image_id * 10, "image_id": image_id, "category_id": 1, "bbox": list(bbox), "area": 3200,
            "iscrowd": 0, "num_keypoints": n_kpts, "keypoints": [20, 30, 2] * n_kpts}


EVAL_FAST = ["--weights", "none", "--input-size", "64x64", "--no-flip", "--device", "cpu", "--no-progress"]


@pytest.mark.parametrize("case, message", [
    ("not_json", "not valid JSON"),
    ("truncated_json", "not valid JSON"),
    ("a_list", "not COCO format"),
    ("image_without_id", "every image needs 'id'"),
    ("annotation_without_bbox", "every annotation needs 'image_id' and 'bbox'"),
    ("wrong_keypoint_count", "expected 51"),
    ("bbox_not_numbers", "bbox must be [x, y, w, h]"),
    ("bbox_nan", "must be finite"),
    ("annotation_without_area", "pycocotools cannot score"),
    ("missing_images", "missing"),
    ("missing_folder", "image folder not found"),
    ("corrupt_image_file", "not an image"),
])
def test_eval_bad_annotation_files(case, message, tmp_path, capsys):
    images_dir = tmp_path / "images"
    images_dir.mkdir()
    Image.fromarray(np.full((100, 80, 3), 90, np.uint8)).save(images_dir / "a.jpg")
    good_images = [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 80}]
    ann = _coco(tmp_path, good_images, [_person(1)])
    folder = str(images_dir)
    if case == "not_json":
        (tmp_path / "ann.json").write_text("this is not json")
    elif case == "truncated_json":
        (tmp_path / "ann.json").write_text(open(ann).read()[:50])
    elif case == "a_list":
        (tmp_path / "ann.json").write_text("[1, 2, 3]")
    elif case == "image_without_id":
        ann = _coco(tmp_path, [{"file_name": "a.jpg"}], [_person(1)])
    elif case == "annotation_without_bbox":
        ann = _coco(tmp_path, good_images, [{"image_id": 1, "keypoints": [0] * 51}])
    elif case == "wrong_keypoint_count":
        ann = _coco(tmp_path, good_images, [_person(1, n_kpts=5)])
    elif case == "bbox_not_numbers":
        ann = _coco(tmp_path, good_images, [{**_person(1), "bbox": ["a", "b"]}])
    elif case == "bbox_nan":
        (tmp_path / "ann.json").write_text(open(ann).read().replace("[10, 10, 40, 80]", "[10, NaN, 40, 80]"))
    elif case == "annotation_without_area":
        ann = _coco(tmp_path, good_images, [{k: v for k, v in _person(1).items() if k != "area"}])
    elif case == "missing_images":
        ann = _coco(tmp_path, good_images + [{"id": 2, "file_name": "gone.jpg", "height": 9, "width": 9}],
                    [_person(1), _person(2)])
    elif case == "missing_folder":
        folder = str(tmp_path / "no_such_folder")
    elif case == "corrupt_image_file":
        (images_dir / "a.jpg").write_bytes(b"garbage" * 10)
    rc = main(["eval", "--ann", ann, "--images", folder, *EVAL_FAST])
    err = capsys.readouterr().err
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("hrgcnet eval: error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err, err


def test_eval_bad_results_file(tmp_path, capsys):
    ann = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 80}], [_person(1)])
    results = tmp_path / "results.json"
    good = {"image_id": 1, "keypoints": [0] * 51, "score": 1}
    for content, message in (("{]", "not valid JSON"), ({"a": 1}, "must be a list"),
                             ([{"image_id": 1}], "needs image_id, keypoints and score"),
                             ([{**good, "image_id": 7}], "not in the annotation file"),
                             # wrong value types: one DatasetError naming the entry, never a TypeError / ValueError
                             ([good, {**good, "keypoints": None}], "result 1: keypoints must be a list"),
                             ([good, {**good, "keypoints": 3}], "result 1: keypoints must be a list"),
                             ([good, {**good, "score": None}], "result 1: score must be a number"),
                             ([good, {**good, "score": "x"}], "result 1: score must be a number"),
                             ([good, {**good, "keypoints": [None] * 51}], "result 1: keypoint value must be a number"),
                             ([good, {**good, "keypoints": ["a"] * 51}], "result 1: keypoint value must be a number"),
                             ([good, {**good, "image_id": [1]}], "result 1: image_id must be a number or a string")):
        results.write_text(content if isinstance(content, str) else json.dumps(content))
        rc = main(["eval", "--ann", ann, "--results", str(results)])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and "Traceback" not in err, (content, err)


def test_eval_detections_file_with_bad_boxes(tmp_path, capsys):
    """A detections file: zero-size boxes are skipped; a box entirely outside its image is an error naming the image."""
    images_dir = tmp_path / "images"
    images_dir.mkdir()
    Image.fromarray(np.full((100, 80, 3), 90, np.uint8)).save(images_dir / "a.jpg")
    ann = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 80}], [_person(1)])
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [5, 5, 0, 40], "score": 0.9},
                                {"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 80], "score": 0.8}]))
    assert main(["eval", "--ann", ann, "--images", str(images_dir), "--boxes", str(dets), "--json", *EVAL_FAST]) == 0
    capsys.readouterr()
    dets.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [500, 500, 40, 80], "score": 0.9}]))
    assert main(["eval", "--ann", ann, "--images", str(images_dir), "--boxes", str(dets), *EVAL_FAST]) == 2
    err = capsys.readouterr().err
    assert "a.jpg (image id 1): box 0" in err and "lies entirely outside the 80x100 image" in err
    dets.write_text(json.dumps([{"image_id": 1, "bbox": [1, 2, 3, "x"], "score": 0.9}]))
    assert main(["eval", "--ann", ann, "--images", str(images_dir), "--boxes", str(dets), *EVAL_FAST]) == 2
    assert "bbox value must be a number" in capsys.readouterr().err


def test_eval_results_file_without_read_permission(tmp_path, capsys, monkeypatch):
    ann = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 80}], [_person(1)])
    results = tmp_path / "results.json"
    results.write_text("[]")
    real_read_text = type(results).read_text

    def denied(self, *args, **kwargs):
        if self == results:
            raise PermissionError(13, "Permission denied")
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(type(results), "read_text", denied)
    assert main(["eval", "--ann", ann, "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read results file {results}: Permission denied" in err and "Traceback" not in err, err


@pytest.mark.parametrize("detection, message", [
    ({"image_id": 1, "bbox": None, "score": 0.9}, "detection 0 of"),
    ({"image_id": 1, "bbox": 5, "score": 0.9}, "bbox must be [x, y, w, h]"),
    ({"image_id": [1], "bbox": [10, 10, 40, 80], "score": 0.9}, "image_id must be a number or a string"),
])
def test_eval_detections_file_with_bad_value_types(detection, message, tmp_path, capsys):
    images_dir = tmp_path / "images"
    images_dir.mkdir()
    Image.fromarray(np.full((100, 80, 3), 90, np.uint8)).save(images_dir / "a.jpg")
    ann = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 80}], [_person(1)])
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([detection]))
    assert main(["eval", "--ann", ann, "--images", str(images_dir), "--boxes", str(dets), *EVAL_FAST]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


@pytest.mark.parametrize("keypoints", [5, "abc", {"x": 1}])
def test_eval_annotation_keypoints_not_a_list(keypoints, tmp_path, capsys):
    ann = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 80}],
                [_person(1), {**_person(1), "id": 11, "keypoints": keypoints}])
    assert main(["eval", "--ann", ann, "--results", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "annotation 1 (id 11): keypoints must be a list of 51 numbers" in err and "Traceback" not in err, err
