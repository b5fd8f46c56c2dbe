"""Bad inputs through the Python API: ``load_image``, ``PoseEstimator`` and the weights loader.

Each kind has one documented outcome (``bad_inputs.py``, ``docs/reliability.md``): handled, with a note when
something was changed, or one typed :class:`~hrgcnet.errors.HRGCNetError` with a clear message.
"""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from bad_inputs import BAD_BOXES, bad_arrays, exif_jpeg, image_files
from hrgcnet.errors import HRGCNetError, ImageError, UsageError, WeightsError
from hrgcnet.io import load_image, load_image_with_notes

FILES = image_files()
ARRAYS = bad_arrays()


def open_files_under(folder) -> list[str]:
    """Files under ``folder`` this process holds open (from /proc/self/fd)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            out.append(target)
    return out


@pytest.mark.parametrize("kind", sorted(FILES))
def test_load_image_bytes_and_path(kind, bad_files):
    name, data, outcome = FILES[kind]
    path, _ = bad_files[kind]
    for source in (data, path, str(path)):
        if outcome.ok:
            image, notes = load_image_with_notes(source)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            assert not outcome.note or any(outcome.note in n.lower() for n in notes), notes
        else:
            with pytest.raises(ImageError) as info:
                load_image(source)
            assert outcome.message in str(info.value).lower()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_no_file_handle_leaks(bad_files, small_estimator):
    """After loading every bad file (and running the estimator on the good ones), none of them is still open."""
    folder = next(iter(bad_files.values()))[0].parent
    for path, outcome in bad_files.values():
        try:
            load_image(path)
            small_estimator(path)
        except HRGCNetError:
            pass
    assert open_files_under(folder) == []


@pytest.mark.parametrize("kind", sorted(ARRAYS))
def test_bad_arrays(kind, small_estimator):
    array, outcome = ARRAYS[kind]
    with pytest.raises(ImageError) as info:
        small_estimator(array)
    assert outcome.message in str(info.value).lower()


def test_wrong_source_type():
    with pytest.raises(ImageError, match="cannot read an image from a dict"):
        load_image({"not": "an image"})


@pytest.mark.parametrize("kind", sorted(k for k, v in FILES.items() if v[2].ok))
def test_estimator_on_odd_images(kind, small_estimator):
    _, data, outcome = FILES[kind]
    res = small_estimator(data)
    assert len(res) == 1  # the whole image is one person
    h, w = res.image_hw
    kp = res.keypoints[0]
    assert np.isfinite(kp).all()
    assert (kp[:, 0] >= 0).all() and (kp[:, 0] <= w - 1).all() and (kp[:, 1] >= 0).all() and (kp[:, 1] <= h - 1).all()
    if outcome.note:
        assert any(outcome.note in n.lower() for n in res.notes), res.notes


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotation_keypoints_on_the_displayed_person(orientation, small_estimator):
    """The image is turned upright as displayed; a box in displayed pixels gets keypoints inside its crop."""
    data = exif_jpeg(orientation)  # stored 80x40 (H x W), white block at the stored top-left
    stored = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    shown = load_image(data)
    turns = {3: 2, 6: -1, 8: 1}[orientation]  # np.rot90 turns counter-clockwise
    np.testing.assert_allclose(shown.astype(int), np.rot90(stored, turns).astype(int), atol=0)
    h, w = shown.shape[:2]
    white = np.argwhere(shown.mean(axis=2) > 200)  # where the white block is displayed
    y0, x0 = white.min(axis=0)
    y1, x1 = white.max(axis=0) + 1
    res = small_estimator(data, boxes=[[x0, y0, x1, y1]])
    assert res.image_hw == (h, w)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = res.scale[0] * 200 / 2  # the padded crop region, in displayed pixels
    kp = res.keypoints[0]
    assert (np.abs(kp[:, 0] - cx) <= half[0] + 1).all() and (np.abs(kp[:, 1] - cy) <= half[1] + 1).all()


@pytest.mark.parametrize("kind", sorted(BAD_BOXES))
def test_bad_boxes(kind, small_estimator):
    boxes, outcome = BAD_BOXES[kind]
    image = np.full((160, 120, 3), 100, np.uint8)
    if outcome.ok:
        res = small_estimator(image, boxes=boxes)
        assert len(res) == 1 and np.isfinite(res.keypoints).all()
    else:
        with pytest.raises(UsageError) as info:
            small_estimator(image, boxes=boxes)
        assert outcome.message in str(info.value).lower()


def test_bad_box_scores(small_estimator):
    image = np.full((160, 120, 3), 100, np.uint8)
    with pytest.raises(UsageError, match="box_scores"):
        small_estimator(image, boxes=[[0, 0, 50, 50]], box_scores=[np.nan])


def test_more_persons_than_the_cap(small_estimator):
    image = np.full((160, 120, 3), 100, np.uint8)
    boxes = [[i, i, 60 + i, 100 + i] for i in range(5)]
    res = small_estimator(image, boxes=boxes, box_scores=[0.1, 0.9, 0.5, 0.8, 0.2])
    assert len(res) <= 3
    assert any("kept the 3 with the highest box scores" in n for n in res.notes)
    kept = res.box_scores.astype(np.float64)
    assert all(np.isclose(kept, v).any() for v in kept) and np.isclose(kept.max(), 0.9)
    assert not np.isclose(kept, 0.1).any() and not np.isclose(kept, 0.2).any()


def test_no_person(small_estimator):
    """An image without persons (no boxes from the detector): an empty result, not an error."""
    res = small_estimator(np.zeros((50, 50, 3), np.uint8), boxes=np.zeros((0, 4)))
    assert len(res) == 0 and res.keypoints.shape == (0, 17, 3)
    assert res.to_coco_json(1) == []


def test_detector_object_notes_are_kept():
    """PoseEstimator.from_model with a detector object keeps its notes (e.g. a yolo -> ssd fallback)."""
    from hrgcnet.detectors import FullImageDetector
    from hrgcnet.pipeline import PoseEstimator

    det = FullImageDetector()
    det.notes.append("detector 'yolo' unavailable (offline); using 'full' instead")
    est = PoseEstimator.from_model(torch.nn.Conv2d(3, 17, 4, stride=4), input_hw=(64, 64), detector=det,
                                   flip_test=False)
    res = est(np.zeros((64, 64, 3), np.uint8))
    assert det.notes[0] in est.notes and det.notes[0] in res.notes


# --------------------------------------------------------------------------------------- models and weights

def test_unknown_model_name():
    from hrgcnet.pipeline import PoseEstimator

    with pytest.raises(UsageError, match="unknown model 'hrnet-w99'"):
        PoseEstimator("hrnet-w99", weights=None, detector="full")


@pytest.fixture(scope="module")
def weights_files(tmp_path_factory):
    """A truncated safetensors file, weights of another architecture, a code-running pickle, an empty file."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("weights")
    good = folder / "other.safetensors"
    save_file({"conv.weight": torch.zeros(4, 3, 3, 3), "conv.bias": torch.zeros(4)}, str(good))
    data = good.read_bytes()
    (folder / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    marker = folder / "pwned"

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(folder / "evil.pth", "wb") as f:
        pickle.dump({"state_dict": RunsCode()}, f)
    (folder / "empty.safetensors").write_bytes(b"")
    (folder / "garbage.pth").write_bytes(b"not a checkpoint at all")
    return folder, marker


@pytest.mark.parametrize("name, message", [
    ("other.safetensors", "does not match the model"),
    ("truncated.safetensors", "truncated"),
    ("evil.pth", "refused"),
    ("empty.safetensors", "empty"),
    ("garbage.pth", "not a torch checkpoint"),
    ("missing.safetensors", "not found"),
])
def test_bad_weights(name, message, weights_files):
    from hrgcnet.models import create_model

    folder, marker = weights_files
    with pytest.raises(WeightsError) as info:
        create_model("hrgcnet-w32", weights=folder / name)
    assert message in str(info.value)
    assert not marker.exists(), "the pickle ran code"
