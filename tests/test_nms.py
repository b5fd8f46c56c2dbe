"""Official rescoring and OKS-NMS on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from hrgcnet.evaluation.nms import areas_from_scale, oks_nms, oks_overlap, rescore_instances
from hrgcnet.structures import OKS_SIGMAS


def _person(x0: float, y0: float) -> np.ndarray:
    """17 keypoints on a 10 px grid starting at (x0, y0), score 1: (17, 3)."""
    k = np.arange(17)
    return np.stack([x0 + 10 * (k % 4), y0 + 10 * (k // 4), np.ones(17)], axis=1)


def test_oks_is_one_for_identical_and_zero_for_distant_persons():
    a = _person(0, 0)
    oks = oks_overlap(a, np.stack([a, _person(1000, 1000)]), 100.0, np.array([100.0, 100.0]))
    np.testing.assert_allclose(oks, [1.0, 0.0], atol=1e-12)


def test_oks_hand_computed_value():
    # sigma 0.5 for every keypoint: (2 sigma)^2 = 1; areas 2 and 2: s = 2; d^2 = 4 ln 2
    # e = d^2 / 1 / 2 / 2 = ln 2, so OKS = exp(-ln 2) = 0.5
    a = np.zeros((17, 3))
    b = np.zeros((1, 17, 3))
    b[0, :, 0] = np.sqrt(4 * np.log(2))
    oks = oks_overlap(a, b, 2.0, np.array([2.0]), sigmas=np.full(17, 0.5))
    assert oks[0] == pytest.approx(0.5, rel=1e-12)


def test_oks_uses_the_coco_sigmas_by_default():
    a = np.zeros((17, 3))
    b = np.zeros((1, 17, 3))
    b[0, :, 0] = 1.0  # d^2 = 1 for every keypoint; areas 1, 1
    expected = np.mean(np.exp(-1.0 / (2 * OKS_SIGMAS) ** 2 / 1.0 / 2))
    assert oks_overlap(a, b, 1.0, np.array([1.0]))[0] == pytest.approx(expected, rel=1e-9)


def test_oks_nms_drops_duplicates_and_keeps_distinct_persons():
    a, near, far = _person(0, 0), _person(0.5, 0.5), _person(300, 0)
    keypoints = np.stack([a, near, far])
    areas = np.full(3, 100.0 * 100.0)
    np.testing.assert_array_equal(oks_nms(keypoints, np.array([0.9, 0.8, 0.7]), areas), [0, 2])
    # the duplicate with the higher score wins
    np.testing.assert_array_equal(oks_nms(keypoints, np.array([0.8, 0.9, 0.7]), areas), [1, 2])


def test_oks_nms_is_greedy_a_suppressed_person_suppresses_nobody():
    # with sigma 0.5, area 2: OKS(d) = exp(-d^2 / 4); threshold 0.9 -> suppress when d < 0.649
    sig = np.full(17, 0.5)
    kpts = np.zeros((3, 17, 3))
    kpts[1, :, 0] = 0.5   # OKS(A, B) = exp(-1/16) = 0.94 -> B dropped by A
    kpts[2, :, 0] = 1.0   # OKS(A, C) = exp(-1/4) = 0.78 -> kept, although OKS(B, C) = 0.94
    keep = oks_nms(kpts, np.array([0.9, 0.8, 0.7]), np.full(3, 2.0), threshold=0.9, sigmas=sig)
    np.testing.assert_array_equal(keep, [0, 2])
    # a lower threshold suppresses C too
    np.testing.assert_array_equal(oks_nms(kpts, np.array([0.9, 0.8, 0.7]), np.full(3, 2.0), 0.7, sig), [0])


def test_oks_nms_empty_and_length_mismatch():
    assert oks_nms(np.zeros((0, 17, 3)), np.zeros(0), np.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match="same length"):
        oks_nms(np.zeros((2, 17, 3)), np.zeros(3), np.zeros(2))


def test_rescoring_is_box_score_times_mean_keypoint_score_above_0_2():
    kpts = np.zeros((2, 17, 3))
    kpts[0, :, 2] = 0.1
    kpts[0, :3, 2] = [0.9, 0.6, 0.3]       # mean of the three above 0.2 = 0.6
    kpts[0, 3, 2] = 0.2                    # exactly 0.2 does not count (strictly greater)
    kpts[1, :, 2] = 0.15                   # nothing above 0.2 -> instance score 0
    np.testing.assert_allclose(rescore_instances(np.array([0.5, 0.9]), kpts), [0.5 * 0.6, 0.0])


def test_areas_from_scale_are_the_padded_box_areas():
    np.testing.assert_allclose(areas_from_scale(np.array([[1.0, 4 / 3], [0.5, 0.5]])), [200 * 800 / 3, 100 * 100])
