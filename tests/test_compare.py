"""hrgcnet.evaluation.compare: per-keypoint disagreement and OKS between two predictions of the same persons."""

from __future__ import annotations

import numpy as np
import pytest

from hrgcnet.evaluation.compare import box_sizes, compare_keypoints, keypoint_oks
from hrgcnet.errors import UsageError
from hrgcnet.evaluation.nms import oks_overlap
from hrgcnet.structures import KEYPOINT_NAMES, OKS_SIGMAS


def random_keypoints(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.zeros((n, 17, 3))
    k[..., :2] = rng.uniform(0, 300, size=(n, 17, 2))
    k[..., 2] = rng.uniform(0, 1, size=(n, 17))
    return k


def test_identical_predictions_agree_fully():
    a = random_keypoints(3)
    boxes = np.array([[0, 0, 100, 200], [10, 10, 60, 60], [0, 0, 300, 300]])
    cmp = compare_keypoints(a, a.copy(), boxes)
    assert np.all(cmp.distances == 0) and np.allclose(cmp.oks, 1.0)


def test_known_shift():
    a = random_keypoints(2)
    b = a.copy()
    b[..., 0] += 3.0
    b[..., 1] += 4.0  # every keypoint 5 px away
    boxes = np.array([[0, 0, 100, 100], [0, 0, 50, 200]])  # box sizes 100 px for both
    cmp = compare_keypoints(a, b, boxes)
    assert np.allclose(cmp.distances, 5.0) and np.allclose(cmp.normalized_distances, 0.05)
    assert np.allclose(cmp.box_sizes, [100.0, 100.0])
    expected = np.exp(-25.0 / (2 * 100.0**2 * (2 * OKS_SIGMAS) ** 2)).mean()
    assert np.allclose(cmp.oks, expected)


def test_oks_matches_the_official_oks_nms_formula():
    a, b = random_keypoints(1, seed=1), random_keypoints(1, seed=2)
    area = 120.0 * 80.0
    ours = keypoint_oks(a, b, np.array([area]))
    official = oks_overlap(a[0], b, area, np.array([area]))  # same formula with equal areas
    assert ours == pytest.approx(official)


def test_score_mask_and_empty_mask():
    a = random_keypoints(1)
    b = a.copy()
    b[0, 0, :2] += 50.0  # only the nose moves
    a[0, :, 2] = 0.9
    b[0, :, 2] = 0.9
    b[0, 0, 2] = 0.1
    boxes = np.array([[0, 0, 100, 100]])
    assert compare_keypoints(a, b, boxes).oks[0] < 1.0
    assert compare_keypoints(a, b, boxes, min_keypoint_score=0.5).oks[0] == pytest.approx(1.0)  # nose not counted
    assert np.isnan(compare_keypoints(a, b, boxes, min_keypoint_score=0.95).oks[0])


def test_tables_and_empty_input():
    cmp = compare_keypoints(np.zeros((0, 17, 3)), np.zeros((0, 17, 3)), np.zeros((0, 4)))
    assert cmp.oks.shape == (0,) and np.isnan(cmp.per_keypoint_mean()).all()
    a = random_keypoints(2)
    cmp = compare_keypoints(a, a + 1.0, np.array([[0, 0, 10, 10], [0, 0, 20, 20]]))
    rows = cmp.table()
    assert [r["keypoint"] for r in rows] == list(KEYPOINT_NAMES)
    assert rows[0]["normalized_distance"] == pytest.approx((np.sqrt(2) / 10 + np.sqrt(2) / 20) / 2)
    assert cmp.table(person=1)[0]["pixel_distance"] == pytest.approx(np.sqrt(2))


def test_mismatched_inputs_are_refused():
    a = random_keypoints(2)
    with pytest.raises(UsageError, match="same shape"):
        compare_keypoints(a, a[:1], np.zeros((2, 4)))
    with pytest.raises(UsageError, match="same boxes"):
        compare_keypoints(a, a, np.zeros((3, 4)))


def test_box_sizes_never_zero():
    assert box_sizes(np.array([[0, 0, 4, 9], [5, 5, 5, 5]])).tolist() == [6.0, 1.0]
