"""Image decoding for training, with an optional in-memory cache of decoded (optionally downscaled) images.

The cache is filled in the main process *before* the DataLoader forks its workers, so all workers
share the decoded pixels copy-on-write instead of each holding its own copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..errors import DatasetError


def read_image_rgb(path: str) -> np.ndarray:
    """Decode ``path`` to an ``(H, W, 3)`` uint8 RGB image; :class:`DatasetError` if unreadable."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def downscale(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Shrink ``image`` so that its longer side is at most ``max_side``; returns it and the factor (<= 1)."""
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image, 1.0
    factor = max_side / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    # INTER_AREA: the right filter for shrinking; the exact factors per axis are returned as one mean.
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), factor


class ImageCache:
    """Decoded images by path, as ``(image (H, W, 3) uint8 RGB, factor)``.

    ``factor`` is the downscale applied (coordinates of the stored image times ``factor`` are
    coordinates in the cached one). Without :meth:`preload`, :meth:`get` decodes on every call.

    Args:
        max_side: downscale cached images to this longer side (None: keep full size).
    """

    def __init__(self, max_side: int | None = None) -> None:
        self.max_side = max_side
        self._images: dict[str, tuple[np.ndarray, float]] = {}

    def __len__(self) -> int:
        return len(self._images)

    @property
    def nbytes(self) -> int:
        return sum(img.nbytes for img, _ in self._images.values())

    def preload(self, paths: Iterable[str], threads: int = 2) -> None:
        """Decode every path once (cv2 releases the GIL, so threads overlap)."""
        todo = sorted(set(paths) - set(self._images))
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for path, item in zip(todo, pool.map(self._load, todo)):
                self._images[path] = item

    def _load(self, path: str) -> tuple[np.ndarray, float]:
        return downscale(read_image_rgb(path), self.max_side)

    def get(self, path: str) -> tuple[np.ndarray, float]:
        item = self._images.get(path)
        return item if item is not None else self._load(path)
