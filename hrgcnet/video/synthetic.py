"""Clips with known motion, made from a still photo: a slow pan and zoom across it.

Every frame is an affine view of the photo, so a keypoint's true position in frame ``t`` is its position in
the photo mapped by that frame's transform. Mapped back, a perfect tracker's keypoints stay still: what moves
is jitter (:func:`jitter`). Used to test tracking and smoothing without a camera, and by
``hrgcnet bench --video``.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from .io import VideoWriter


def pan_zoom_transforms(image_hw: tuple[int, int], frames: int, out_hw: tuple[int, int] | None = None,
                        zoom: tuple[float, float] = (1.0, 1.25), pan: float = 0.15) -> np.ndarray:
    """``(frames, 2, 3)`` affine maps from photo pixels to frame pixels: the view's scale goes from
    ``zoom[0]`` to ``zoom[1]`` while its centre moves by ``pan`` of the photo's width, left to right, on a smooth
    (cosine) path. ``out_hw`` defaults to the photo's size (rounded down to even numbers)."""
    h, w = image_hw
    oh, ow = out_hw or (h - h % 2, w - w % 2)
    s = np.linspace(0.0, 1.0, frames)
    ease = (1 - np.cos(np.pi * s)) / 2
    scale = zoom[0] + (zoom[1] - zoom[0]) * ease
    cx = w / 2 + (ease - 0.5) * pan * w
    cy = np.full(frames, h / 2)
    base = min(ow / w, oh / h)
    a = np.zeros((frames, 2, 3))
    a[:, 0, 0] = a[:, 1, 1] = base * scale
    a[:, 0, 2] = ow / 2 - base * scale * cx
    a[:, 1, 2] = oh / 2 - base * scale * cy
    return a


def render_clip(image: np.ndarray, transforms: np.ndarray, path: str | os.PathLike, fps: float = 25.0,
                out_hw: tuple[int, int] | None = None) -> None:
    """Write the views of ``image`` (RGB) under ``transforms`` as an H.264 mp4 at ``fps``."""
    h, w = image.shape[:2]
    oh, ow = out_hw or (h - h % 2, w - w % 2)
    with VideoWriter(path, fps=fps) as writer:
        for i, a in enumerate(transforms):
            frame = cv2.warpAffine(image, a, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            writer.write(frame, i / fps)


def to_photo(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Frame pixel coordinates ``(..., 2)`` mapped back to photo pixels by the inverse of ``transform``."""
    inv = cv2.invertAffineTransform(transform)
    return points @ inv[:, :2].T + inv[:, 2]


def jitter(tracks: np.ndarray, transforms: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Mean frame-to-frame movement, in photo pixels, of keypoints mapped back to the photo.

    Args:
        tracks: ``(T, K, 2)`` one person's keypoints in frame pixels over ``T`` frames.
        transforms: ``(T, 2, 3)`` the frames' maps (:func:`pan_zoom_transforms`).
        visible: ``(K,)`` bool, the keypoints to count (default all).

    The true motion is removed by the mapping, so a perfect estimate scores 0.
    """
    photo = np.stack([to_photo(t, a) for t, a in zip(tracks, transforms)])
    steps = np.linalg.norm(np.diff(photo, axis=0), axis=-1)  # (T-1, K)
    if visible is not None:
        steps = steps[:, np.asarray(visible, dtype=bool)]
    return float(steps.mean())
