"""Drawing functions return new RGB images with the skeleton, boxes, heatmaps and attention where expected."""

from __future__ import annotations

import numpy as np
import pytest

from hrgcnet.structures.bbox import box_xyxy_to_center_scale
from hrgcnet.pipeline import PoseResult
from hrgcnet.structures import SKELETON
from hrgcnet.visualization.drawing import (KEYPOINT_COLORS, LIMB_COLORS, attention_overlay, colorize, draw_keypoints, draw_poses,
                         heatmap_grid, heatmap_overlay, heatmaps_on_image)


def _person() -> np.ndarray:
    """A standing person in a 200x200 image: (1, 17, 3) with score 0.9."""
    xy = [(100, 30), (95, 25), (105, 25), (90, 28), (110, 28), (80, 60), (120, 60), (70, 90), (130, 90),
          (65, 120), (135, 120), (88, 120), (112, 120), (86, 155), (114, 155), (85, 190), (115, 190)]
    k = np.zeros((1, 17, 3))
    k[0, :, :2] = xy
    k[0, :, 2] = 0.9
    return k


def _result(kpts: np.ndarray, boxes: np.ndarray) -> PoseResult:
    center, scale = box_xyxy_to_center_scale(boxes, (64, 48))
    n = len(boxes)
    return PoseResult(boxes=boxes.astype(np.float32), box_scores=np.full(n, 0.8, np.float32),
                      keypoints=kpts.astype(np.float32), instance_scores=np.full(n, 0.7, np.float32),
                      center=center, scale=scale, input_hw=(64, 48), image_hw=(200, 200))


def test_draw_keypoints_draws_on_a_copy_with_side_colours():
    image = np.zeros((200, 200, 3), np.uint8)
    kpts = _person()
    out = draw_keypoints(image, kpts, thickness=2)
    assert out.shape == image.shape and out.dtype == np.uint8 and image.max() == 0
    # the keypoint's own colour at its centre (ring is white, so look at the exact centre)
    for k in (0, 9, 10):
        x, y = kpts[0, k, :2].astype(int)
        np.testing.assert_array_equal(out[y, x], KEYPOINT_COLORS[k])
    # the midpoint of the left shin (15 -> 13) carries that limb's colour
    limb = SKELETON.index((15, 13))
    mid = ((kpts[0, 15, :2] + kpts[0, 13, :2]) / 2).round().astype(int)
    np.testing.assert_array_equal(out[mid[1], mid[0]], LIMB_COLORS[limb])
    assert len(LIMB_COLORS) == len(SKELETON)


def test_keypoints_below_threshold_are_not_drawn():
    image = np.full((200, 200, 3), 50, np.uint8)
    kpts = _person()
    kpts[0, :, 2] = 0.1
    np.testing.assert_array_equal(draw_keypoints(image, kpts, kpt_thr=0.3), image)
    kpts[0, 9, 2] = 0.9  # one wrist: drawn, but no limb (its neighbours are below the threshold)
    out = draw_keypoints(image, kpts, kpt_thr=0.3, thickness=1)
    changed = np.argwhere((out != image).any(axis=2))
    assert changed.size and np.abs(changed - [120, 65]).max() <= 3


def test_boxes_and_labels():
    image = np.zeros((200, 200, 3), np.uint8)
    out = draw_keypoints(image, np.zeros((1, 17, 3)), boxes=np.array([[40, 60, 160, 190]]), labels=["#0 0.93"],
                         thickness=1)
    np.testing.assert_array_equal(out[190, 100], [255, 255, 255])  # bottom edge
    np.testing.assert_array_equal(out[120, 160], [255, 255, 255])  # right edge
    assert out[45:60, 40:100].any()  # label background above the box


@pytest.mark.parametrize("box", [[170, 60, 199, 190], [150, 0, 199, 50], [-30, -20, 40, 40]])
def test_labels_stay_inside_the_image(box):
    """A box at the right or top edge (or partly outside) keeps its whole label in the image: the rows of the label
    band hold at least the label's width of drawn columns (clipped at the right edge: only 30 of them)."""
    import cv2

    image = np.zeros((200, 200, 3), np.uint8)
    label = "#2 0.87"
    out = draw_keypoints(image, np.zeros((1, 17, 3)), boxes=np.array([box]), labels=[label], thickness=1)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    bottom = max(box[1], th + base)
    band = out[bottom - th - base + 1:bottom - 1]
    assert tw > 40 and band.any(axis=2).any(axis=0).sum() >= tw


def test_enlarge_by_a_whole_factor_keeps_pixels_sharp():
    from hrgcnet.visualization.drawing import enlarge

    crop = np.arange(128 * 96 * 3, dtype=np.uint8).reshape(128, 96, 3)
    big = enlarge(crop)
    assert big.shape == (512, 384, 3) and (big[::4, ::4] == crop).all() and (big[3::4, 3::4] == crop).all()
    assert enlarge(np.zeros((400, 500, 3), np.uint8)).shape == (400, 500, 3)  # already large
    assert enlarge(np.zeros((256, 192, 3), np.uint8)).shape == (512, 384, 3)


def test_draw_poses_uses_the_result():
    kpts = _person()
    res = _result(kpts, np.array([[60.0, 20.0, 140.0, 195.0]]))
    image = np.zeros((200, 200, 3), np.uint8)
    a = draw_poses(image, res)
    b = draw_poses(image, res, label="box_score")
    c = draw_poses(image, res, show_boxes=False)
    assert a.any() and not np.array_equal(a, b)   # different labels
    assert c[195, 100].tolist() != [255, 255, 255]   # no box edge
    with pytest.raises(ValueError, match="label"):
        draw_poses(image, res, label="confidence")
    with pytest.raises(ValueError, match="uint8 RGB"):
        draw_poses(image.astype(np.float32), res)


def test_colorize_uses_the_jet_map():
    out = colorize(np.array([[0.0, 0.5, 1.0]]))
    assert out.shape == (1, 3, 3) and out.dtype == np.uint8
    assert out[0, 2, 0] > 100 and out[0, 2, 2] < 50      # maximum: red
    assert out[0, 0, 2] > 100 and out[0, 0, 0] < 50      # zero: blue
    assert (colorize(np.zeros((2, 2))) == colorize(np.zeros((2, 2)))).all()  # all-zero map is fine


def test_heatmap_overlay_puts_the_heat_at_the_peak():
    crop = np.zeros((64, 48, 3), np.uint8)
    hm = np.zeros((17, 16, 12), np.float32)
    hm[5, 4, 9] = 1.0    # left shoulder at heatmap (9, 4) -> crop ~(36-39, 16-19)
    hm[0, 12, 2] = 0.5
    out = heatmap_overlay(crop, hm, keypoint=5, alpha=1.0)
    y, x = np.unravel_index(np.argmax(out[..., 0].astype(int) - out[..., 2]), out.shape[:2])
    assert abs(x - 37.5) <= 4 and abs(y - 17.5) <= 4
    merged = heatmap_overlay(crop, hm, alpha=1.0)  # max over keypoints shows both
    assert merged[50, 10].tolist() != out[50, 10].tolist()
    with pytest.raises(ValueError, match=r"\(K, h, w\)"):
        heatmap_overlay(crop, hm[0])


def test_heatmap_grid_layout():
    crop = np.zeros((64, 48, 3), np.uint8)
    grid = heatmap_grid(crop, np.random.default_rng(0).random((17, 16, 12)).astype(np.float32), cols=6)
    assert grid.shape == (3 * 64, 6 * 48, 3)  # 18 tiles: all + 17 keypoints


def test_heatmaps_on_image_warps_back_to_the_person():
    boxes = np.array([[100.0, 20.0, 180.0, 180.0]])
    res = _result(_person(), boxes)
    hm = np.zeros((1, 17, 16, 12), np.float32)
    hm[0, 0, 8, 6] = 1.0  # heatmap centre -> box centre (140, 100)
    res.heatmaps = hm
    out = heatmaps_on_image(np.zeros((200, 200, 3), np.uint8), res, alpha=1.0)
    y, x = np.unravel_index(np.argmax(out[..., 0].astype(int) - out[..., 2]), out.shape[:2])
    assert abs(x - 140) <= 8 and abs(y - 100) <= 8
    res.heatmaps = None
    with pytest.raises(ValueError, match="return_heatmaps=True"):
        heatmaps_on_image(np.zeros((200, 200, 3), np.uint8), res)


def test_attention_overlay_nearest_keeps_cells():
    crop = np.zeros((64, 48, 3), np.uint8)
    alpha = np.zeros((4, 3), np.float32)
    alpha[0, 2] = 1.0  # top-right cell of a 4x3 map = crop rows 0..15, cols 32..47
    out = attention_overlay(crop, alpha, alpha=1.0)
    assert out.shape == crop.shape
    np.testing.assert_array_equal(out[0, 32], out[15, 47])
    assert out[0, 32].tolist() != out[16, 32].tolist()
    smooth = attention_overlay(crop, alpha, alpha=1.0, interpolation="bilinear")
    assert smooth[16, 40].tolist() != out[16, 40].tolist()  # bilinear spreads the cell's value across its edge
    with pytest.raises(ValueError, match=r"\(h, w\)"):
        attention_overlay(crop, alpha[None])
    with pytest.raises(ValueError, match="interpolation"):
        attention_overlay(crop, alpha, interpolation="cubic")
