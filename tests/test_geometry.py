"""Box <-> center/scale and the crop affine transform against the official HRNet construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hrgcnet.structures.bbox import (box_xyxy_to_center_scale, center_scale_to_box_xyxy, get_affine_transform,
                              heatmap_to_image_coords, transform_points, warp_crop)


def _official_affine(center, scale, rot, output_wh, inv=False):
    """The official three-point ``get_affine_transform`` (lib/utils/transforms.py), written from its description."""
    src_w = scale[0] * 200.0
    dst_w, dst_h = output_wh
    rad = np.pi * rot / 180
    sn, cs = np.sin(rad), np.cos(rad)
    src_dir = np.array([0 * cs - (src_w * -0.5) * sn, 0 * sn + (src_w * -0.5) * cs])
    dst_dir = np.array([0, dst_w * -0.5])

    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]])

    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0], src[1] = center, center + src_dir
    dst[0], dst[1] = [dst_w * 0.5, dst_h * 0.5], np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2], dst[2] = third(src[0], src[1]), third(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


@pytest.mark.parametrize("rot", [0.0, 30.0, -45.0, 90.0])
@pytest.mark.parametrize("inv", [False, True])
def test_affine_matches_the_official_three_point_construction(rot, inv):
    center, scale = np.array([320.5, 210.25]), np.array([1.3, 1.7333])
    ours = get_affine_transform(center, scale, rot, (192, 256), inv=inv)
    ref = _official_affine(center, scale, rot, (192, 256), inv=inv)
    # the official points are float32, so compare at float32 precision
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("rot", [0.0, 17.0, -60.0])
def test_affine_and_its_inverse_round_trip(rot):
    rng = np.random.default_rng(0)
    center, scale = np.array([123.4, 345.6]), np.array([0.9, 1.2])
    fwd = get_affine_transform(center, scale, rot, (48, 64))
    inv = get_affine_transform(center, scale, rot, (48, 64), inv=True)
    pts = rng.uniform(-100, 600, (50, 2))
    np.testing.assert_allclose(transform_points(transform_points(pts, fwd), inv), pts, atol=1e-9)
    # center lands on the middle of the output; the region's width maps to the output width
    np.testing.assert_allclose(transform_points(center, fwd), [24, 32], atol=1e-9)


def test_box_to_center_scale_pads_to_the_input_aspect_and_enlarges_1_25():
    # a tall box (w < 0.75 h) is widened; a wide box is heightened (official _box2cs)
    center, scale = box_xyxy_to_center_scale(np.array([[10, 20, 70, 220], [0, 0, 300, 100]]), (256, 192))
    np.testing.assert_allclose(center, [[40, 120], [150, 50]])
    np.testing.assert_allclose(scale, [[150 / 200 * 1.25, 200 / 200 * 1.25], [300 / 200 * 1.25, 400 / 200 * 1.25]])
    back = center_scale_to_box_xyxy(center, scale)
    np.testing.assert_allclose(back[0], [40 - 75, 20, 40 + 75, 220])


def test_warp_crop_maps_the_box_center_to_the_crop_center():
    image = np.zeros((300, 400, 3), np.uint8)
    image[145:156, 195:206] = 255  # a bright 11x11 square centred at (200, 150)
    center, scale = box_xyxy_to_center_scale(np.array([[150, 50, 250, 250]]), (256, 192))
    crop = warp_crop(image, center[0], scale[0], (256, 192))
    assert crop.shape == (256, 192, 3) and crop.dtype == np.uint8
    ys, xs = np.nonzero(crop[..., 0] > 128)
    assert abs(xs.mean() - 96) < 1.0 and abs(ys.mean() - 128) < 1.0


def test_heatmap_coords_map_back_to_image_pixels():
    center = np.array([[200.0, 150.0], [50.0, 60.0]])
    scale = np.array([[1.0, 4 / 3], [0.5, 2 / 3]])
    # the heatmap center maps to the box center; one heatmap pixel = scale*200/48 image pixels
    coords = np.array([[[24, 32], [25, 32]], [[24, 32], [24, 33]]], dtype=np.float64)
    img = heatmap_to_image_coords(coords, center, scale, (64, 48))
    np.testing.assert_allclose(img[0, 0], [200, 150])
    np.testing.assert_allclose(img[0, 1], [200 + 200 / 48, 150])
    np.testing.assert_allclose(img[1, 1], [50, 60 + 100 / 48])
