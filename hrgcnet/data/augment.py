"""Training augmentation of the official HRNet ``JointsDataset``: half-body, scale, rotation and flip.

All randomness comes from a ``numpy.random.Generator`` passed in, so a sample's augmentation depends only
on its seed (not on worker processes or the order of loading).

Shapes: ``keypoints (K, 2)`` x, y pixels; ``weights (K,)``; ``center, scale (2,)`` (scale in units of
``PIXEL_STD``, see :mod:`hrgcnet.structures.bbox`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..structures import FLIP_INDICES, PIXEL_STD, UPPER_BODY_IDS


@dataclass
class AugmentConfig:
    """Augmentation parameters (defaults: the paper / official HRNet COCO recipe).

    Args:
        half_body_prob: probability of the half-body crop when more than ``half_body_min_keypoints``
            keypoints are labelled.
        half_body_padding: enlargement of the half-body box (official 1.5).
        scale_factor: ``scale *= clip(randn * f + 1, 1 - f, 1 + f)``.
        rotation_factor: ``rot = clip(randn * f, -rotation_max, rotation_max)`` degrees ...
        rotation_prob: ... applied with this probability.
        rotation_max: the clip of the rotation (the paper: 45; the official code: 2 * factor = 90).
        flip_prob: probability of a horizontal flip (left/right keypoints swapped).
    """

    half_body_prob: float = 0.3
    half_body_min_keypoints: int = 8
    half_body_padding: float = 1.5
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    rotation_max: float = 45.0
    flip_prob: float = 0.5


def half_body_center_scale(keypoints: np.ndarray, weights: np.ndarray, aspect: float, padding: float,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """Official ``half_body_transform``: a box around the upper (preferred) or lower labelled keypoints.

    ``aspect`` is the crop's w / h. Returns ``(center, scale)`` or None when too few keypoints.
    """
    labelled = weights > 0
    upper = np.array([k in UPPER_BODY_IDS for k in range(len(keypoints))])
    upper_pts, lower_pts = keypoints[labelled & upper], keypoints[labelled & ~upper]
    # Official: ``np.random.randn() < 0.5`` (p ~ 0.69) prefers the upper body.
    if rng.standard_normal() < 0.5 and len(upper_pts) > 2:
        selected = upper_pts
    else:
        selected = lower_pts if len(lower_pts) > 2 else upper_pts
    if len(selected) < 2:
        return None
    center = selected.mean(axis=0)
    w, h = selected.max(axis=0) - selected.min(axis=0)
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return center, np.array([w, h]) / PIXEL_STD * padding


def flip_keypoints(keypoints: np.ndarray, weights: np.ndarray, image_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mirror keypoints in an image of ``image_width`` pixels and swap left/right (official ``fliplr_joints``)."""
    flipped = keypoints[list(FLIP_INDICES)].copy()
    flipped[:, 0] = image_width - flipped[:, 0] - 1
    return flipped, weights[list(FLIP_INDICES)].copy()


def sample_scale_rotation(cfg: AugmentConfig, rng: np.random.Generator) -> tuple[float, float]:
    """Random scale multiplier and rotation in degrees."""
    f = cfg.scale_factor
    s = float(np.clip(rng.standard_normal() * f + 1, 1 - f, 1 + f))
    r = 0.0
    if rng.random() <= cfg.rotation_prob:
        r = float(np.clip(rng.standard_normal() * cfg.rotation_factor, -cfg.rotation_max, cfg.rotation_max))
    return s, r
