"""What every detector returns: person boxes and their scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detections:
    """Person boxes of one image.

    Attributes:
        boxes: ``(N, 4)`` float32 x1, y1, x2, y2 in image pixels.
        box_scores: ``(N,)`` float32 in [0, 1].
        notes: messages for the user (e.g. "no boxes for image 42 in dets.json").
    """

    boxes: np.ndarray
    box_scores: np.ndarray
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.box_scores = np.asarray(self.box_scores, dtype=np.float32).reshape(-1)
        if self.boxes.shape[0] != self.box_scores.shape[0]:
            raise ValueError(f"{self.boxes.shape[0]} boxes but {self.box_scores.shape[0]} box scores")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @classmethod
    def empty(cls, notes: list[str] | None = None) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), list(notes or []))

    def keep(self, mask_or_index: np.ndarray) -> "Detections":
        """The subset selected by a boolean mask ``(N,)`` or an index array."""
        return Detections(self.boxes[mask_or_index], self.box_scores[mask_or_index], list(self.notes))


def valid_boxes(boxes: np.ndarray) -> np.ndarray:
    """Mask ``(N,)`` of finite boxes ``(N, 4)`` with positive width and height."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(boxes).all(axis=1)
    return finite & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def _intersection(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, M)`` intersection areas of ``a (N, 4)`` and ``b (M, 4)`` xyxy, with the areas of ``a`` and ``b``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    return ix * iy, (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a (N, 4)``, ``b (M, 4)`` xyxy -> ``(N, M)`` IoU."""
    inter, area_a, area_b = _intersection(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def box_ioa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` intersection of ``a (N, 4)`` with ``b (M, 4)`` over the area of ``a``."""
    inter, area_a, _ = _intersection(a, b)
    return inter / np.maximum(area_a[:, None], 1e-12)
