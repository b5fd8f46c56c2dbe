"""Property tests (hypothesis, bounded example counts): the heatmap codec, the crop affine, the image loader on
arbitrary bytes, the COCO results writer and the app's box parser."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from hrgcnet.codecs import MSRAHeatmap
from hrgcnet.errors import ImageError, UsageError
from hrgcnet.structures.bbox import get_affine_transform, transform_points
from hrgcnet.io import load_image

FAST = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
INPUT_HW, HEATMAP_HW = (64, 48), (16, 12)
coordinate = st.floats(min_value=-500, max_value=500, allow_nan=False, allow_infinity=False)
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@FAST
@given(x=st.one_of(coordinate, any_float), y=st.one_of(coordinate, any_float))
def test_heatmap_encode_decode_any_coordinates(x, y):
    codec = MSRAHeatmap(INPUT_HW, HEATMAP_HW)
    heatmaps, weights = codec.encode(np.array([[x, y]]), np.array([1]))
    assert heatmaps.shape == (1, *HEATMAP_HW) and np.isfinite(heatmaps).all()
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1
    h, w = HEATMAP_HW
    coords, scores = codec.decode(heatmaps[None])
    assert coords.shape == (1, 1, 2) and np.isfinite(coords).all() and np.isfinite(scores).all()
    if weights[0] == 0:
        assert heatmaps.max() == 0 and scores[0, 0] == 0
        return
    mx, my = x / codec.stride[0], y / codec.stride[1]  # in heatmap pixels
    if heatmaps.max() == 0:
        # Official quirk kept for parity (HRNet's generate_target): the 6-sigma window [ul, br) ending exactly at
        # the map's first row/column (br == 0) passes the "br < 0" visibility check, so the keypoint keeps
        # weight 1 with an all-zero heatmap. It only happens that far outside the map.
        rx, ry = np.floor(mx + 0.5), np.floor(my + 0.5)
        radius = codec.sigma * 3
        assert int(rx + radius + 1) == 0 or int(ry + radius + 1) == 0, (mx, my)
        return
    assert 0 <= coords[0, 0, 0] <= w - 1 and 0 <= coords[0, 0, 1] <= h - 1
    if 0 <= mx <= w - 1 and 0 <= my <= h - 1:  # inside the map: decoded within the rounding + quarter offset
        assert abs(coords[0, 0, 0] - mx) <= 0.75 and abs(coords[0, 0, 1] - my) <= 0.75
        assert scores[0, 0] == pytest.approx(1.0)


@FAST
@given(cx=coordinate, cy=coordinate, sw=st.floats(0.05, 20), sh=st.floats(0.05, 20),
       rot=st.floats(-180, 180), out_w=st.integers(8, 512), out_h=st.integers(8, 512),
       points=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=8))
def test_affine_forward_inverse(cx, cy, sw, sh, rot, out_w, out_h, points):
    center, scale = np.array([cx, cy]), np.array([sw, sh])
    fwd = get_affine_transform(center, scale, rot, (out_w, out_h))
    inv = get_affine_transform(center, scale, rot, (out_w, out_h), inv=True)
    pts = np.asarray(points, dtype=np.float64)
    back = transform_points(transform_points(pts, fwd), inv)
    np.testing.assert_allclose(back, pts, atol=1e-6 * (1 + np.abs(pts).max()), rtol=1e-9)
    middle = transform_points(center, fwd)
    np.testing.assert_allclose(middle, [out_w / 2, out_h / 2], atol=1e-6 * (1 + abs(cx) + abs(cy)))


def _valid_image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(24 * 16 * 3, dtype=np.uint8).reshape(24, 16, 3)).save(buf, format=fmt)
    return buf.getvalue()


VALID = {fmt: _valid_image_bytes(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")}


def _check_loader(data: bytes) -> None:
    try:
        image = load_image(data)
    except ImageError as exc:
        assert str(exc)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.size > 0


@FAST
@given(data=st.binary(max_size=2048))
def test_load_image_arbitrary_bytes(data):
    _check_loader(data)


@FAST
@given(fmt=st.sampled_from(sorted(VALID)), cut=st.integers(0, 10_000),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6))
@example(fmt="TIFF", cut=140, flips=[(130, 1)])  # PIL raised TypeError("Missing dimensions") from n_frames
@example(fmt="TIFF", cut=147, flips=[(12, 2)])  # ValueError("Invalid dimensions") from Image.open
@example(fmt="PNG", cut=40, flips=[(58, 116), (76, 230), (54, 115), (73, 225), (107, 91), (11, 11)])  # "Truncated IHDR"
def test_load_image_corrupted_real_files(fmt, cut, flips):
    """Valid files of every format, truncated and with random bytes changed: an image or an ImageError."""
    data = bytearray(VALID[fmt])
    for pos, value in flips:
        data[pos % len(data)] = value
    _check_loader(bytes(data[: max(1, cut % (len(data) + 1))]))


@FAST
@given(n=st.integers(0, 4), image_id=st.integers(0, 2**53), seed=st.integers(0, 2**32 - 1),
       magnitude=st.sampled_from([1.0, 1e4, 1e12]))
def test_coco_results_writer(n, image_id, seed, magnitude):
    from hrgcnet.evaluation.coco import load_results
    from hrgcnet.pipeline import PoseResult

    rng = np.random.default_rng(seed)
    kpts = (rng.standard_normal((n, 17, 3)) * magnitude).astype(np.float32)
    res = PoseResult(boxes=np.zeros((n, 4), np.float32), box_scores=rng.random(n).astype(np.float32), keypoints=kpts,
                     instance_scores=rng.random(n).astype(np.float32), center=np.zeros((n, 2)),
                     scale=np.ones((n, 2)), input_hw=(64, 48), image_hw=(100, 100))
    rows = res.to_coco_json(image_id)
    text = json.dumps(rows, allow_nan=False)  # strict JSON
    back = load_results(json.loads(text))
    assert len(back) == n
    for row, k in zip(back, kpts):
        assert row["image_id"] == image_id and row["category_id"] == 1 and len(row["keypoints"]) == 51
        np.testing.assert_allclose(row["keypoints"], k.reshape(-1), rtol=1e-6, atol=1e-3)


@FAST
@given(text=st.text(max_size=80))
def test_box_parser_any_text(text):
    from app.handlers import parse_boxes

    try:
        boxes = parse_boxes(text)
    except UsageError as exc:
        assert "box" in str(exc)
        return
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) >= 1
