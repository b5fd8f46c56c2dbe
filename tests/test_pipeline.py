"""PoseEstimator contracts on real photos with a random-weight HRGCNet (small input, fp32, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hrgcnet.pipeline as pipeline
from hrgcnet.errors import ImageError, UsageError
from hrgcnet.models import gc_blocks
from hrgcnet.pipeline import PoseEstimator, PoseResult, select_autocast_dtype

INPUT_HW = (128, 96)
HEATMAP_HW = (32, 24)
ONE_LARGE_PERSON = "000000368212.jpg"   # COCO val: one person filling most of the frame
TWO_PERSONS = "000000192699.jpg"        # two large persons
NOBODY = "000000011813.jpg"             # no person



@pytest.fixture(scope="module")
def est() -> PoseEstimator:
    torch.manual_seed(0)
    return PoseEstimator("hrgcnet-w32", weights=None, device="cpu", detector="full", input_hw=INPUT_HW,
                         precision="fp32")


@pytest.fixture(scope="module")
def val(coco_val):
    ann, images = coco_val
    data = json.loads(Path(ann).read_text())
    ids = {img["file_name"]: img["id"] for img in data["images"]}

    def gt_boxes(name: str) -> np.ndarray:
        return np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                         for a in data["annotations"] if a["image_id"] == ids[name] and not a["iscrowd"]])

    return ann, images, ids, gt_boxes


def _check_result(res: PoseResult, image_hw: tuple[int, int], n: int) -> None:
    h, w = image_hw
    assert len(res) == n and res.image_hw == image_hw and res.input_hw == INPUT_HW
    assert res.boxes.shape == (n, 4) and res.box_scores.shape == (n,)
    assert res.keypoints.shape == (n, 17, 3) and res.keypoints.dtype == np.float32
    assert res.instance_scores.shape == (n,) and res.center.shape == (n, 2) and res.scale.shape == (n, 2)
    assert np.isfinite(res.keypoints).all()
    assert (res.keypoints[..., 0] >= 0).all() and (res.keypoints[..., 0] <= w - 1).all()
    assert (res.keypoints[..., 1] >= 0).all() and (res.keypoints[..., 1] <= h - 1).all()
    assert set(res.timings) == {"detect_ms", "pose_ms", "decode_ms"}
    assert all(v >= 0 for v in res.timings.values())


def test_untrained_weights_are_flagged(est):
    assert est.untrained
    assert any("untrained weights" in note for note in est.notes)


def test_contract_on_a_photo_with_two_persons(est, val):
    ann, images, ids, gt_boxes = val
    boxes = gt_boxes(TWO_PERSONS)
    res = est(images / TWO_PERSONS, boxes=boxes, box_scores=[0.9, 0.8], return_heatmaps=True,
              return_attention=True, return_crops=True)
    image_hw = Image.open(images / TWO_PERSONS).size[::-1]
    _check_result(res, image_hw, 2)
    np.testing.assert_allclose(res.boxes, boxes, rtol=1e-6)
    assert any("untrained" in n for n in res.notes)
    assert res.heatmaps.shape == (2, 17, *HEATMAP_HW) and res.heatmaps.dtype == np.float32
    assert res.crops.shape == (2, *INPUT_HW, 3) and res.crops.dtype == np.uint8
    # every GC block, by name, (N, h, w), each map sums to 1
    assert list(res.attention) == list(gc_blocks(est.model))
    for name, alpha in res.attention.items():
        assert alpha.ndim == 3 and alpha.shape[0] == 2, name
        np.testing.assert_allclose(alpha.sum(axis=(1, 2)), 1.0, rtol=1e-4)
    assert res.attention["stage1.block0"].shape[1:] == HEATMAP_HW


def test_coco_json_is_valid_results_format(est, val):
    ann, images, ids, gt_boxes = val
    res = est(images / TWO_PERSONS, boxes=gt_boxes(TWO_PERSONS))
    rows = res.to_coco_json(ids[TWO_PERSONS])
    rows = json.loads(json.dumps(rows))  # JSON-serialisable
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"image_id", "category_id", "keypoints", "score"}
        assert row["image_id"] == ids[TWO_PERSONS] and row["category_id"] == 1
        assert len(row["keypoints"]) == 51 and all(isinstance(v, float) for v in row["keypoints"])
        assert isinstance(row["score"], float)
    from pycocotools.coco import COCO
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        dt = gt.loadRes(rows)
    assert len(dt.getAnnIds()) == 2


def test_batch_of_n_persons_equals_n_separate_runs(est, val, monkeypatch):
    _, images, _, gt_boxes = val
    monkeypatch.setattr(est, "oks_nms", False)
    boxes = np.concatenate([gt_boxes(TWO_PERSONS), [[100.0, 50.0, 300.0, 400.0]]])
    scores = np.array([0.9, 0.8, 0.7])
    batch = est(images / TWO_PERSONS, boxes=boxes, box_scores=scores, return_heatmaps=True)
    for i in range(3):
        single = est(images / TWO_PERSONS, boxes=boxes[i:i + 1], box_scores=scores[i:i + 1], return_heatmaps=True)
        scale = float(np.abs(single.heatmaps).max())
        np.testing.assert_allclose(batch.heatmaps[i], single.heatmaps[0], rtol=1e-4, atol=1e-5 * scale)
        np.testing.assert_allclose(batch.keypoints[i, :, :2], single.keypoints[0, :, :2], atol=1e-3)
        np.testing.assert_allclose(batch.keypoints[i, :, 2], single.keypoints[0, :, 2], rtol=1e-4, atol=1e-5 * scale)
    # chunked forward passes (max_batch) give the same heatmaps
    monkeypatch.setattr(est, "max_batch", 2)
    chunked = est(images / TWO_PERSONS, boxes=boxes, box_scores=scores, return_heatmaps=True)
    scale = float(np.abs(batch.heatmaps).max())
    np.testing.assert_allclose(chunked.heatmaps, batch.heatmaps, rtol=1e-4, atol=1e-5 * scale)


def test_image_sources_and_bgr_give_the_same_result(est, val):
    _, images, _, gt_boxes = val
    path = images / ONE_LARGE_PERSON
    boxes = gt_boxes(ONE_LARGE_PERSON)
    rgb = np.asarray(Image.open(path).convert("RGB"))
    ref = est(path, boxes=boxes)
    for source, color in ((str(path), "rgb"), (rgb, "rgb"), (rgb[..., ::-1].copy(), "bgr"),
                          (Image.open(path), "rgb"), (path.read_bytes(), "rgb")):
        res = est(source, boxes=boxes, color=color)
        np.testing.assert_array_equal(res.keypoints, ref.keypoints)


def test_full_detector_on_a_photo(est, val):
    _, images, _, _ = val
    res = est(images / ONE_LARGE_PERSON)
    h, w = Image.open(images / ONE_LARGE_PERSON).size[::-1]
    _check_result(res, (h, w), 1)
    np.testing.assert_array_equal(res.boxes, [[0, 0, w, h]])


def test_no_person(est, val):
    _, images, _, _ = val
    res = est(images / NOBODY, boxes=np.zeros((0, 4)), return_heatmaps=True, return_attention=True)
    h, w = Image.open(images / NOBODY).size[::-1]
    _check_result(res, (h, w), 0)
    assert res.heatmaps.shape == (0, 17, *HEATMAP_HW)
    assert res.to_coco_json(1) == []


def test_duplicate_boxes_are_removed_by_oks_nms(est):
    image = np.full((200, 160, 3), 127, np.uint8)
    res = est(image, boxes=[[20, 20, 120, 180], [20, 20, 120, 180]], box_scores=[0.9, 0.8])
    assert len(res) == 1 and res.box_scores[0] == pytest.approx(0.9)
    assert any("OKS-NMS removed 1" in n for n in res.notes)


def test_max_persons_keeps_the_highest_box_scores(est, monkeypatch):
    monkeypatch.setattr(est, "max_persons", 2)
    monkeypatch.setattr(est, "oks_nms", False)
    image = np.full((200, 300, 3), 127, np.uint8)
    boxes = [[10 + 50 * i, 10, 60 + 50 * i, 150] for i in range(5)]
    res = est(image, boxes=boxes, box_scores=[0.1, 0.9, 0.3, 0.8, 0.2])
    np.testing.assert_allclose(res.box_scores, [0.9, 0.8])
    np.testing.assert_allclose(res.boxes, [boxes[1], boxes[3]])
    assert any("kept the 2 with the highest box scores" in n for n in res.notes)
    assert res.detected == 5 and res.select([0]).detected == 5  # what the app's "N shown of M found" counts


def test_select_keeps_fields_aligned(est):
    image = np.full((200, 300, 3), 127, np.uint8)
    res = est(image, boxes=[[10, 10, 100, 190], [150, 10, 290, 190]], return_heatmaps=True,
              return_attention=True, return_crops=True)
    one = res.select([1])
    assert len(one) == 1 and one.heatmaps.shape[0] == 1 and one.crops.shape[0] == 1
    np.testing.assert_array_equal(one.keypoints[0], res.keypoints[1])
    assert all(v.shape[0] == 1 for v in one.attention.values())


@pytest.mark.parametrize("boxes, scores, match", [
    ([[10, 10, 5, 50]], None, "not a valid x1, y1, x2, y2 box"),
    ([[10, 10, np.nan, 50]], None, "not a valid"),
    ([[1, 2, 3]], None, r"\(N, 4\)"),
    ([["a", 2, 3, 4]], None, "must be numbers"),
    ([[0, 0, 10, 10]], [0.5, 0.4], "box_scores must be 1"),
])
def test_bad_boxes_are_rejected(est, boxes, scores, match):
    with pytest.raises(UsageError, match=match):
        est(np.zeros((50, 50, 3), np.uint8), boxes=boxes, box_scores=scores)


def test_bad_images_are_rejected(est, tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        est(tmp_path / "missing.jpg")
    (tmp_path / "x.jpg").write_text("not an image")
    with pytest.raises(ImageError, match="not an image file"):
        est(tmp_path / "x.jpg")
    with pytest.raises(ImageError, match="empty image"):
        est(np.zeros((0, 5, 3), np.uint8))


def test_bad_options():
    with pytest.raises(UsageError, match="unknown model"):
        PoseEstimator("hrgcnet-w99", detector="full")
    with pytest.raises(UsageError, match="multiples of 32"):
        PoseEstimator("hrgcnet-w32", weights=None, detector="full", input_hw=(100, 96))
    with pytest.raises(UsageError, match="precision"):
        select_autocast_dtype(torch.device("cpu"), "int4")
    assert select_autocast_dtype(torch.device("cpu"), "int8") is None  # what int8 leaves to torch runs in fp32


def test_cpu_bf16_detection_from_cpuinfo_flags():
    assert pipeline.cpu_supports_bf16("processor : 0\nflags : fpu sse avx2 avx512f avx512_bf16\n")
    assert pipeline.cpu_supports_bf16("flags\t\t: fpu amx_tile amx_bf16 amx_int8\n")
    assert not pipeline.cpu_supports_bf16("flags : fpu sse avx2 avx512f avx512_vnni\n")
    assert not pipeline.cpu_supports_bf16("")


def test_device_and_precision_selection(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(pipeline, "cpu_supports_bf16", lambda: True)
    assert select_autocast_dtype(cpu, "auto") == torch.bfloat16
    monkeypatch.setattr(pipeline, "cpu_supports_bf16", lambda: False)
    assert select_autocast_dtype(cpu, "auto") is None
    assert select_autocast_dtype(cuda, "auto") == torch.float16
    assert select_autocast_dtype(cpu, "fp32") is None and select_autocast_dtype(cuda, "bf16") == torch.bfloat16
    if not torch.cuda.is_available():
        assert pipeline.select_device("auto") == cpu
        with pytest.raises(UsageError, match="CUDA is not available"):
            pipeline.select_device("cuda")
    with pytest.raises(UsageError, match="unknown device"):
        pipeline.select_device("tpu9")


def test_from_model_wraps_without_copying_and_bf16_runs(est):
    model = est.model
    wrapped = PoseEstimator.from_model(model, input_hw=INPUT_HW, precision="fp32", oks_nms=False)
    assert wrapped.model is model and wrapped.detector.name == "full" and wrapped.max_persons is None
    image = np.random.default_rng(0).integers(0, 256, (160, 120, 3), dtype=np.uint8)
    box = [[10, 10, 110, 150]]
    np.testing.assert_array_equal(wrapped(image, boxes=box).keypoints, est(image, boxes=box).keypoints)
    bf16 = PoseEstimator.from_model(model, input_hw=INPUT_HW, precision="bf16")
    assert bf16.autocast_dtype == torch.bfloat16
    res = bf16(image, boxes=box, return_heatmaps=True)
    assert res.heatmaps.dtype == np.float32 and np.isfinite(res.keypoints).all()


def test_weights_file_is_loaded(est, tmp_path):
    from hrgcnet.models.weights import save_weights

    path = save_weights(est.model, tmp_path / "w.safetensors", metadata={"model": "hrgcnet-w32"}, dtype=None)
    loaded = PoseEstimator("hrgcnet-w32", weights=path, device="cpu", detector="full", input_hw=INPUT_HW,
                           precision="fp32")
    assert not loaded.untrained and not any("untrained" in n for n in loaded.notes)
    image = np.random.default_rng(1).integers(0, 256, (160, 120, 3), dtype=np.uint8)
    a = loaded(image, return_heatmaps=True).heatmaps
    b = est(image, return_heatmaps=True).heatmaps
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(np.abs(b).max()))


@pytest.mark.parametrize("meta, expected", [({"input_size": "128x96"}, (128, 96)),
                                           ({"input_hw": "[384, 288]"}, (384, 288)),
                                           ({"input_size": "100x80"}, None), ({}, None)])
def test_the_input_size_of_a_weights_file_comes_from_its_metadata(tmp_path, meta, expected):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata=meta)
    assert pipeline.weights_input_hw(path) == expected
    assert pipeline.weights_input_hw(tmp_path / "w.pth") is None  # only safetensors carry metadata


class SlowNet(torch.nn.Module):
    """Zero heatmaps after ``delay_s`` per forward pass: a stand-in for a slow network."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import time

        time.sleep(self.delay_s)
        return torch.zeros(x.shape[0], 17, x.shape[2] // 4, x.shape[3] // 4) + self.anchor


def test_time_limit_stops_between_batches():
    import time

    from hrgcnet.errors import TimeLimitError

    est = PoseEstimator.from_model(SlowNet(0.2), input_hw="64x64", max_batch=1, flip_test=False,
                                   oks_nms=False)
    image = np.zeros((100, 80, 3), np.uint8)
    boxes = [[0, 0, 40, 50], [40, 0, 80, 50], [0, 50, 40, 100], [40, 50, 80, 100], [10, 10, 70, 90]]
    assert len(est(image, boxes=boxes, time_limit_s=30)) == 5  # a generous limit changes nothing
    t0 = time.perf_counter()
    with pytest.raises(TimeLimitError, match=r"stopped before persons \d-\d of 5: .* time limit of 0.3 s"):
        est(image, boxes=boxes, time_limit_s=0.3)
    assert time.perf_counter() - t0 < 0.2 * 4  # stopped before the last batches ran
    with pytest.raises(TimeLimitError, match="after detecting 5 person"):
        est(image, boxes=boxes, time_limit_s=1e-9)
    with pytest.raises(UsageError, match="positive"):
        est(image, boxes=boxes, time_limit_s=0)


def test_wrapping_a_shared_network_does_not_move_it_again(est, monkeypatch):
    """The apps wrap one shared network in a new estimator per request (``from_model``): a network already on the
    device and in channels-last memory is taken as it is (``Module.to`` walks every submodule: about 22 ms a call here),
    and one that is not is still moved."""
    calls = []
    apply = torch.nn.Module._apply
    monkeypatch.setattr(torch.nn.Module, "_apply", lambda self, *a, **k: calls.append(self) or apply(self, *a, **k))
    for channels_last in (False, True):
        wrapped = PoseEstimator.from_model(est.model, input_hw=INPUT_HW, channels_last=channels_last)
        assert wrapped.model is est.model
    assert not calls
    fresh = PoseEstimator.from_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), channels_last=True)
    assert calls and fresh.model[0].weight.is_contiguous(memory_format=torch.channels_last)
