"""The ``full`` detector: the whole image is one person (webcam, selfie, already-cropped photos)."""

from __future__ import annotations

import numpy as np

from .base import Detections


class FullImageDetector:
    """Return one box covering the whole image, with box score 1.

    The pipeline pads it to the input aspect ratio and x1.25 like any other box, so a person filling
    the frame is seen whole.
    """

    name = "full"

    def __init__(self) -> None:
        self.notes: list[str] = []

    def __call__(self, image: np.ndarray, *, image_id: int | None = None,
                 file_name: str | None = None) -> Detections:
        """``image (H, W, 3)`` -> one box ``[0, 0, W, H]``."""
        h, w = image.shape[:2]
        return Detections(np.array([[0.0, 0.0, w, h]]), np.array([1.0]))

    def __repr__(self) -> str:
        return "FullImageDetector()"
