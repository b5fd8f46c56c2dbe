"""Side-by-side comparison of two models' keypoints on the same persons (e.g. HRNet vs HRGCNet).

Both predictions must come from the same boxes, person for person, so that person ``i`` of one is
person ``i`` of the other. Two measures of disagreement:

* per-keypoint pixel distance normalised by the box size, ``d / sqrt(box_w * box_h)``: 0.1 means the
  two models put that keypoint a tenth of the person's size apart;
* OKS between the two predictions (COCO's object keypoint similarity, one prediction taken as the
  "ground truth"), with the box area as the object scale ``s^2`` and
  :data:`hrgcnet.structures.OKS_SIGMAS`: ``OKS = mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))``.
  1 means identical keypoints; COCO counts a prediction as correct at OKS >= 0.5 (AP50) or 0.75 (AP75).

Note:
    N: number of persons; K: number of keypoints (17).
    ``keypoints (N, K, 3)`` x, y, score in image pixels; ``boxes (N, 4)`` x1, y1, x2, y2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..structures import KEYPOINT_NAMES, OKS_SIGMAS


@dataclass
class KeypointComparison:
    """Disagreement between two predictions of the same persons.

    Attributes:
        distances: ``(N, K)`` pixel distance between the two models' keypoints.
        normalized_distances: ``(N, K)`` distances divided by ``sqrt(box area)`` of each person.
        oks: ``(N,)`` OKS of prediction ``b`` against prediction ``a`` (over all K keypoints, or over the
            keypoints both models score at least ``min_keypoint_score``; NaN when none qualifies).
        box_sizes: ``(N,)`` ``sqrt(box_w * box_h)`` in pixels.
        counted: ``(N, K)`` bool, the keypoints that count (both models score at least ``min_keypoint_score``;
            all of them without a threshold): the OKS, :meth:`counted_distances` and the means use only these.
    """

    distances: np.ndarray
    normalized_distances: np.ndarray
    oks: np.ndarray
    box_sizes: np.ndarray
    counted: np.ndarray

    def counted_distances(self, pixels: bool = False) -> np.ndarray:
        """``(N, K)`` normalised (or pixel) distances, NaN for the keypoints that do not count."""
        return np.where(self.counted, self.distances if pixels else self.normalized_distances, np.nan)

    def per_keypoint_mean(self, pixels: bool = False) -> np.ndarray:
        """Mean normalised (or pixel) distance of each keypoint over the persons where it counts: ``(K,)`` (NaN
        where it counts for nobody, e.g. N = 0)."""
        d = self.distances if pixels else self.normalized_distances
        n = self.counted.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, np.where(self.counted, d, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)

    def table(self, person: int | None = None) -> list[dict]:
        """One row per keypoint: name, mean (or one person's) normalised and pixel distance."""
        if person is None:
            norm, pix = self.per_keypoint_mean(), self.per_keypoint_mean(pixels=True)
        else:
            norm, pix = self.counted_distances()[person], self.counted_distances(pixels=True)[person]
        return [{"keypoint": name, "normalized_distance": float(n), "pixel_distance": float(p)}
                for name, n, p in zip(KEYPOINT_NAMES, norm, pix)]


def box_sizes(boxes: np.ndarray) -> np.ndarray:
    """``sqrt(w * h)`` of boxes ``(N, 4)`` xyxy -> ``(N,)`` pixels (at least 1 px)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    return np.sqrt(np.maximum(area, 1.0))


def keypoint_oks(keypoints_a: np.ndarray, keypoints_b: np.ndarray, areas: np.ndarray,
                 mask: np.ndarray | None = None, sigmas: np.ndarray = OKS_SIGMAS) -> np.ndarray:
    """OKS between two predictions of the same persons.

    Args:
        keypoints_a, keypoints_b: ``(N, K, 2+)`` image pixels.
        areas: ``(N,)`` object scale ``s^2`` in pixels^2.
        mask: ``(N, K)`` bool, the keypoints that count (default all); a person without any gets NaN.

    Returns:
        ``(N,)`` in [0, 1].
    """
    a = np.asarray(keypoints_a, dtype=np.float64)[..., :2]
    b = np.asarray(keypoints_b, dtype=np.float64)[..., :2]
    d2 = ((a - b) ** 2).sum(axis=-1)  # (N, K)
    variances = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2  # (K,)
    s2 = np.maximum(np.asarray(areas, dtype=np.float64).reshape(-1, 1), np.spacing(1))  # (N, 1)
    sim = np.exp(-d2 / (2.0 * s2 * variances[None]))  # (N, K)
    if mask is None:
        return sim.mean(axis=1) if sim.shape[1] else np.full(sim.shape[0], np.nan)
    mask = np.asarray(mask, dtype=bool)
    count = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (sim * mask).sum(axis=1) / np.maximum(count, 1), np.nan)


def compare_keypoints(keypoints_a: np.ndarray, keypoints_b: np.ndarray, boxes: np.ndarray,
                      min_keypoint_score: float | None = None) -> KeypointComparison:
    """Compare two models' keypoints ``(N, K, 3)`` predicted in the same ``boxes (N, 4)``.

    Args:
        min_keypoint_score: when given, only the keypoints that both models score at least this much count
            (``counted``): in the OKS and the means (``distances`` are still given for every keypoint).

    Raises:
        UsageError: the two predictions or the boxes do not describe the same N persons.
    """
    a = np.asarray(keypoints_a, dtype=np.float64)
    b = np.asarray(keypoints_b, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if a.ndim != 3 or a.shape != b.shape or a.shape[-1] < 2:
        raise UsageError(f"keypoints must both be (N, K, 3) with the same shape, got {a.shape} and {b.shape}")
    if boxes.shape[0] != a.shape[0]:
        raise UsageError(f"{boxes.shape[0]} boxes for {a.shape[0]} persons: compare predictions made on the "
                         "same boxes")
    distances = np.sqrt(((a[..., :2] - b[..., :2]) ** 2).sum(axis=-1))  # (N, K)
    sizes = box_sizes(boxes)  # (N,)
    mask = None
    if min_keypoint_score is not None and a.shape[-1] >= 3:
        mask = (a[..., 2] >= min_keypoint_score) & (b[..., 2] >= min_keypoint_score)
    oks = keypoint_oks(a, b, sizes ** 2, mask=mask, sigmas=OKS_SIGMAS[: a.shape[1]])
    counted = np.ones(distances.shape, dtype=bool) if mask is None else mask
    return KeypointComparison(distances, distances / sizes[:, None], oks, sizes, counted)
