"""MSRA heatmap codec: encode -> decode round trips, the official decoding rules, DARK against a reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hrgcnet.codecs import MSRAHeatmap, get_heatmap_maximum, refine_keypoints_dark, refine_keypoints_quarter

INPUT_HW = (256, 192)
HEATMAP_HW = (64, 48)


def test_dark_round_trip_recovers_a_subpixel_peak_within_0_1_px():
    codec = MSRAHeatmap(INPUT_HW, HEATMAP_HW, sigma=2.0, unbiased=True, refine="dark")
    rng = np.random.default_rng(0)
    # 17 keypoints in crop pixels, away from the border, with arbitrary sub-pixel parts
    kpts = np.stack([rng.uniform(24, 168, 17), rng.uniform(24, 232, 17)], axis=1)
    heatmaps, weights = codec.encode(kpts, np.ones(17))
    assert heatmaps.shape == (17, *HEATMAP_HW) and heatmaps.dtype == np.float32
    np.testing.assert_array_equal(weights, np.ones(17, np.float32))
    decoded, scores = codec.decode(heatmaps[None])
    error = np.abs(decoded[0] * codec.stride - kpts)  # heatmap -> crop pixels
    # 0.1 heatmap px = 0.4 crop px; the Taylor step on a log-Gaussian is exact up to float32 rounding
    assert (np.abs(decoded[0] - kpts / codec.stride) < 0.1).all(), np.abs(decoded[0] - kpts / codec.stride).max()
    assert error.max() < 0.4
    assert (scores > 0.9).all()


def test_quarter_offset_is_exact_for_peaks_a_quarter_pixel_off_the_grid():
    codec = MSRAHeatmap(INPUT_HW, HEATMAP_HW, sigma=2.0, unbiased=True, refine="quarter")
    grid = np.array([[10, 20], [30, 40], [20, 13], [5, 50]], dtype=np.float64)
    offsets = np.array([[0.25, -0.25], [-0.25, 0.25], [0.25, 0.25], [-0.25, -0.25]])
    target = grid + offsets  # heatmap pixels
    heatmaps, _ = codec.encode(target * codec.stride, np.ones(4))
    decoded, _ = codec.decode(heatmaps[None])
    np.testing.assert_allclose(decoded[0], target, atol=1e-9)


def test_official_encoding_decodes_to_the_rounded_location():
    codec = MSRAHeatmap(INPUT_HW, HEATMAP_HW, sigma=2.0, unbiased=False, refine="quarter")
    kpts_hm = np.array([[12.3, 30.6], [40.5, 7.49]])
    heatmaps, _ = codec.encode(kpts_hm * codec.stride, np.ones(2))
    decoded, scores = codec.decode(heatmaps[None])
    # the official target is centred on floor(mu + 0.5); a symmetric peak gets no quarter offset
    np.testing.assert_allclose(decoded[0], np.floor(kpts_hm + 0.5))
    np.testing.assert_allclose(scores[0], 1.0)


def test_target_weights_zero_for_unlabelled_and_off_map_keypoints():
    codec = MSRAHeatmap(INPUT_HW, HEATMAP_HW, sigma=2.0)
    kpts = np.array([[96.0, 128.0], [96.0, 128.0], [-40.0, 128.0], [96.0, 256.0 + 30.0], [-20.0, -20.0]])
    visible = np.array([2, 0, 1, 1, 1])
    heatmaps, weights = codec.encode(kpts, visible)
    # -40 px = -10 heatmap px: the 13x13 window [-16, -3] misses the map; y = 286 px = 71.5 -> 72 > 63 + 6
    # (-20, -20) px = (-5, -5) heatmap px: the window reaches (1, 1), so it still counts (official rule)
    np.testing.assert_array_equal(weights, [1, 0, 0, 0, 1])
    assert heatmaps[1].max() == 0 and heatmaps[2].max() == 0 and heatmaps[3].max() == 0
    assert 0 < heatmaps[4].max() < 0.01


def test_decode_masks_non_positive_maxima_to_zero_like_get_max_preds():
    heatmaps = np.full((1, 2, 8, 6), -1.0, dtype=np.float32)
    heatmaps[0, 0, 5, 3] = -0.5  # maximum <= 0
    heatmaps[0, 1, 2, 4] = 0.7
    for refine in ("quarter", "dark", "none"):
        kpts, scores = MSRAHeatmap((32, 24), (8, 6), refine=refine).decode(heatmaps)
        np.testing.assert_array_equal(kpts[0, 0], [0, 0])
        assert scores[0, 0] == pytest.approx(-0.5)
        assert scores[0, 1] == pytest.approx(0.7)


def test_argmax_and_quarter_rule_match_the_official_loop():
    rng = np.random.default_rng(1)
    heatmaps = rng.random((3, 17, 16, 12)).astype(np.float32)
    kpts, scores = get_heatmap_maximum(heatmaps)
    refined = refine_keypoints_quarter(kpts, heatmaps)
    for n in range(3):
        for k in range(17):
            hm = heatmaps[n, k]
            y, x = np.unravel_index(np.argmax(hm), hm.shape)
            assert (kpts[n, k] == [x, y]).all() and scores[n, k] == hm.max()
            expect = np.array([x, y], dtype=np.float64)
            if 1 < x < 11 and 1 < y < 15:
                expect += 0.25 * np.sign([hm[y, x + 1] - hm[y, x - 1], hm[y + 1, x] - hm[y - 1, x]])
            np.testing.assert_allclose(refined[n, k], expect)


def _dark_reference(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """DARK as published (DarkPose ``gaussian_blur`` with zero padding + ``taylor``), written from the paper's code."""
    n, k, h, w = heatmaps.shape
    border = (kernel - 1) // 2
    coords, _ = get_heatmap_maximum(heatmaps)
    out = coords.copy()
    for i in range(n):
        for j in range(k):
            padded = np.zeros((h + 2 * border, w + 2 * border))
            padded[border:-border, border:-border] = heatmaps[i, j]
            blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:-border, border:-border]
            blurred *= heatmaps[i, j].max() / blurred.max()
            hm = np.log(np.maximum(blurred, 1e-10))
            px, py = int(coords[i, j, 0]), int(coords[i, j, 1])
            if 1 < px < w - 2 and 1 < py < h - 2:
                dx = 0.5 * (hm[py, px + 1] - hm[py, px - 1])
                dy = 0.5 * (hm[py + 1, px] - hm[py - 1, px])
                dxx = 0.25 * (hm[py, px + 2] - 2 * hm[py, px] + hm[py, px - 2])
                dxy = 0.25 * (hm[py + 1, px + 1] - hm[py - 1, px + 1] - hm[py + 1, px - 1] + hm[py - 1, px - 1])
                dyy = 0.25 * (hm[py + 2, px] - 2 * hm[py, px] + hm[py - 2, px])
                hessian = np.array([[dxx, dxy], [dxy, dyy]])
                if np.linalg.det(hessian) != 0:
                    out[i, j] -= np.linalg.solve(hessian, [dx, dy])
    return out


def test_dark_refinement_matches_the_reference_including_near_the_border():
    codec = MSRAHeatmap(INPUT_HW, HEATMAP_HW, sigma=2.0, unbiased=True, refine="dark")
    rng = np.random.default_rng(2)
    # peaks anywhere on the map, including 2-4 px from the border where the blur's padding matters
    kpts_hm = np.stack([rng.uniform(2.2, 45.8, 17), rng.uniform(2.2, 61.8, 17)], axis=1)
    kpts_hm[:4] = [[2.4, 30.2], [45.3, 10.7], [20.6, 2.3], [30.1, 61.4]]
    heatmaps, _ = codec.encode(kpts_hm * codec.stride, np.ones(17))
    heatmaps = heatmaps[None] * 0.8 + rng.normal(0, 0.01, heatmaps[None].shape).astype(np.float32)
    ours, _ = codec.decode(heatmaps)
    reference = _dark_reference(heatmaps, kernel=11)  # DarkPose / mmpose use an 11x11 blur for sigma 2
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_dark_helper_accepts_an_explicit_kernel():
    rng = np.random.default_rng(3)
    heatmaps = np.exp(-((np.arange(48)[None] - 20.3) ** 2 + (np.arange(64)[:, None] - 31.7) ** 2) / 8.0)
    heatmaps = heatmaps[None, None].astype(np.float32) + rng.normal(0, 1e-3, (1, 1, 64, 48)).astype(np.float32)
    kpts, _ = get_heatmap_maximum(heatmaps)
    for kernel in (7, 11, 17):
        refined = refine_keypoints_dark(kpts, heatmaps, blur_kernel_size=kernel)
        np.testing.assert_allclose(refined[0, 0], [20.3, 31.7], atol=0.1)
        np.testing.assert_allclose(refined, _dark_reference(heatmaps, kernel), atol=1e-4)


def test_decode_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\(N, K, h, w\)"):
        MSRAHeatmap(INPUT_HW, HEATMAP_HW).decode(np.zeros((17, 64, 48)))
    with pytest.raises(ValueError, match="refine"):
        MSRAHeatmap(INPUT_HW, HEATMAP_HW, refine="subpixel")
