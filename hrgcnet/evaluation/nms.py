"""Instance rescoring and OKS-NMS of the official HRNet evaluation (``lib/nms/nms.py``, ``coco.py``).

Note:
    N: number of persons of one image; K: number of keypoints (17).
    ``keypoints (N, K, 3)`` x, y, score in image pixels; ``areas (N,)`` the object scale s^2 in
    pixels^2 (the official code uses the area of the padded x1.25 box, ``prod(scale * 200)``).
"""

from __future__ import annotations

import numpy as np

from ..structures import OKS_SIGMAS, PIXEL_STD

#: Keypoint score above which a keypoint counts in the instance score (official IN_VIS_THRE).
RESCORE_KEYPOINT_THRESHOLD = 0.2
#: OKS above which the lower-scored person is dropped (official OKS_THRE).
OKS_NMS_THRESHOLD = 0.9


def rescore_instances(box_scores: np.ndarray, keypoints: np.ndarray,
                      keypoint_threshold: float = RESCORE_KEYPOINT_THRESHOLD) -> np.ndarray:
    """Official instance score: ``box_score * mean(keypoint scores > keypoint_threshold)``.

    A person with no keypoint above the threshold gets 0.

    Args:
        box_scores: ``(N,)``.
        keypoints: ``(N, K, 3)``; only the score column is used.

    Returns:
        instance scores ``(N,)`` float64.
    """
    box_scores = np.asarray(box_scores, dtype=np.float64).reshape(-1)
    scores = np.asarray(keypoints, dtype=np.float64)[..., 2]
    if scores.shape[0] != box_scores.shape[0]:
        raise ValueError(f"{box_scores.shape[0]} box scores for {scores.shape[0]} persons")
    valid = scores > keypoint_threshold
    count = valid.sum(axis=1)
    mean = np.where(count > 0, (scores * valid).sum(axis=1) / np.maximum(count, 1), 0.0)
    return box_scores * mean


def oks_overlap(keypoints: np.ndarray, others: np.ndarray, area: float, other_areas: np.ndarray,
                sigmas: np.ndarray = OKS_SIGMAS) -> np.ndarray:
    """OKS of one person against others, as ``oks_iou`` of the official code (all K keypoints used).

    ``e = d^2 / (2 sigma)^2 / ((a + a') / 2 + eps) / 2``; OKS = mean over keypoints of ``exp(-e)``.

    Args:
        keypoints: ``(K, 2+)`` of the reference person.
        others: ``(M, K, 2+)``.
        area: reference area (pixels^2).
        other_areas: ``(M,)``.

    Returns:
        ``(M,)`` OKS values in [0, 1].
    """
    ref = np.asarray(keypoints, dtype=np.float64)[:, :2]
    oth = np.asarray(others, dtype=np.float64)[..., :2]
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    d2 = ((oth - ref[None]) ** 2).sum(axis=-1)  # (M, K)
    scale = (area + np.asarray(other_areas, dtype=np.float64)) / 2 + np.spacing(1)
    e = d2 / variances[None] / scale[:, None] / 2
    return np.exp(-e).mean(axis=1)


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray,
            threshold: float = OKS_NMS_THRESHOLD, sigmas: np.ndarray = OKS_SIGMAS) -> np.ndarray:
    """Greedy OKS-NMS: keep the best-scored person, drop others with OKS > ``threshold``, repeat.

    Args:
        keypoints: ``(N, K, 2+)``.
        scores: ``(N,)`` instance scores.
        areas: ``(N,)`` object areas in pixels^2 (see :func:`areas_from_scale`).

    Returns:
        kept indices ``(M,)`` int64, by decreasing score (ties keep the lower index first).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    areas = np.asarray(areas, dtype=np.float64).reshape(-1)
    if not (keypoints.shape[0] == scores.shape[0] == areas.shape[0]):
        raise ValueError(f"keypoints {keypoints.shape}, scores {scores.shape} and areas {areas.shape} "
                         "must have the same length N")
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        overlap = oks_overlap(keypoints[i], keypoints[rest], areas[i], areas[rest], sigmas)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def areas_from_scale(scale: np.ndarray) -> np.ndarray:
    """Official OKS-NMS area: ``prod(scale * PIXEL_STD)`` of ``scale (N, 2)`` -> ``(N,)`` pixels^2."""
    return np.prod(np.asarray(scale, dtype=np.float64).reshape(-1, 2) * PIXEL_STD, axis=1)
