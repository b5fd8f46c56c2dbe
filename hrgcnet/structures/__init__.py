"""COCO-17 keypoint metadata and the constants shared by codecs, pipeline, training and drawing.

Conventions used throughout the package (see the glossary in ``docs/design.md``):

* ``keypoints``: ``(N, K, 3)`` array of x, y, score in image pixels (K = 17).
* ``heatmaps``: ``(N, K, h, w)`` at 1/4 of the input size.
* ``box``: x1, y1, x2, y2 pixels (COCO ``xywh`` only at the JSON edge).
* ``input_hw``: network input size as (height, width), e.g. ``(256, 192)``.
"""

from __future__ import annotations

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

#: Left/right index pairs swapped by a horizontal flip.
FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)
#: ``FLIP_INDICES[k]`` is the channel that keypoint ``k`` becomes after a horizontal flip.
FLIP_INDICES: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)

#: COCO skeleton as 0-based keypoint index pairs.
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
    (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

#: Per-keypoint OKS falloff constants of the COCO keypoint evaluation.
OKS_SIGMAS = np.array(
    [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
     1.07, 1.07, 0.87, 0.87, 0.89, 0.89], dtype=np.float64) / 10.0

UPPER_BODY_IDS: tuple[int, ...] = tuple(range(11))
LOWER_BODY_IDS: tuple[int, ...] = tuple(range(11, 17))

#: ImageNet normalisation of RGB inputs in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Official HRNet box scale unit: ``scale = box_wh / PIXEL_STD``.
PIXEL_STD = 200.0
#: Official HRNet box padding factor.
BOX_PADDING = 1.25
