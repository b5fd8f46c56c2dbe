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


Resized = tuple[np.ndarray, np.ndarray, np.ndarray]


def resize_by(image: np.ndarray, factor: float) -> Resized:
    """Shrink ``image (H, W, 3)`` by ``factor`` (<= 1; INTER_AREA, the filter for shrinking).

    Returns ``(image, origin (2,), zoom (2,))``: a point ``p`` of the input is at ``(p - origin) * zoom`` in the
    result (pixel centres at integers, as in the training geometry; ``zoom`` per axis, after rounding the size).
    """
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size != (w, h):
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    zoom = np.array([size[0] / w, size[1] / h])
    # cv2.resize maps pixel centres: x' + 0.5 = (x + 0.5) * zoom, i.e. x' = (x - (0.5 / zoom - 0.5)) * zoom.
    return image, 0.5 / zoom - 0.5, zoom


def downscale(image: np.ndarray, max_side: int | None) -> Resized:
    """Shrink ``image`` so that its longer side is at most ``max_side``: :func:`resize_by`'s triple."""
    h, w = image.shape[:2]
    return resize_by(image, max_side / max(h, w) if max_side and max(h, w) > max_side else 1.0)


class ImageCache:
    """Decoded images by path, as :func:`downscale`'s ``(image (H, W, 3) uint8 RGB, origin (2,), zoom (2,))``:
    a point ``p`` of the stored image is at ``(p - origin) * zoom`` in the cached one. Without :meth:`preload`,
    :meth:`get` decodes on every call.

    Args:
        max_side: downscale cached images to this longer side (None: keep full size).
    """

    def __init__(self, max_side: int | None = None) -> None:
        self.max_side = max_side
        self._images: dict[str, Resized] = {}

    def __len__(self) -> int:
        return len(self._images)

    @property
    def nbytes(self) -> int:
        return sum(item[0].nbytes for item in self._images.values())

    def preload(self, paths: Iterable[str], threads: int = 2) -> None:
        """Decode every path once (cv2 releases the GIL, so threads overlap)."""
        todo = sorted(set(paths) - set(self._images))
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for path, item in zip(todo, pool.map(self._load, todo)):
                self._images[path] = item

    def _load(self, path: str) -> Resized:
        return downscale(read_image_rgb(path), self.max_side)

    def get(self, path: str) -> Resized:
        item = self._images.get(path)
        return item if item is not None else self._load(path)
