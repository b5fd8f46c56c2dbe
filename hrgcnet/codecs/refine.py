"""Sub-pixel refinement of integer heatmap maxima.

Shapes: keypoints ``(N, K, 2)`` x, y in heatmap pixels; heatmaps ``(N, K, h, w)``.
"""

from __future__ import annotations

import cv2
import numpy as np


def refine_keypoints_quarter(keypoints: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Official HRNet rule: move 0.25 px toward the higher neighbour in x and in y.

    Applied only where the peak is strictly inside the map (``1 < x < w - 1``, likewise y), exactly
    as ``get_final_preds``.
    """
    keypoints = np.array(keypoints, dtype=np.float64, copy=True)
    n, k, h, w = heatmaps.shape
    px = np.floor(keypoints[..., 0] + 0.5).astype(np.int64)
    py = np.floor(keypoints[..., 1] + 0.5).astype(np.int64)
    inside = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    ni, ki = np.nonzero(inside)
    x, y = px[ni, ki], py[ni, ki]
    dx = heatmaps[ni, ki, y, x + 1] - heatmaps[ni, ki, y, x - 1]
    dy = heatmaps[ni, ki, y + 1, x] - heatmaps[ni, ki, y - 1, x]
    keypoints[ni, ki, 0] += np.sign(dx) * 0.25
    keypoints[ni, ki, 1] += np.sign(dy) * 0.25
    return keypoints


def refine_keypoints_dark(keypoints: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int = 11) -> np.ndarray:
    """DARK refinement (Zhang et al., CVPR 2020): Taylor expansion of the log of the blurred heatmap.

    The heatmap is Gaussian-blurred (keeping its maximum), log-transformed, and the peak is moved by
    ``-H^{-1} g`` using the first and second derivatives at the integer maximum.
    """
    keypoints = np.array(keypoints, dtype=np.float64, copy=True)
    n, k, h, w = heatmaps.shape
    # Zero padding outside the map, as DARK's reference gaussian_blur (cv2's default reflection invents mass
    # beyond the border and pulls peaks near it by up to a pixel): the blur as two banded matrices, every map at once.
    orig = heatmaps.astype(np.float64)
    blurred = _blur_matrix(h, blur_kernel_size) @ orig @ _blur_matrix(w, blur_kernel_size).T
    bmax = blurred.max(axis=(2, 3))
    scale = np.where(bmax > 0, orig.max(axis=(2, 3)) / np.where(bmax > 0, bmax, 1.0), 1.0)  # keeps each maximum
    px = keypoints[..., 0].astype(np.int64)
    py = keypoints[..., 1].astype(np.int64)
    inside = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    ni, ki = np.nonzero(inside)
    x, y = px[ni, ki], py[ni, ki]
    s = scale[ni, ki]

    def at(dy: int, dx: int) -> np.ndarray:  # the log of the rescaled blurred map, at the peak's neighbours only
        return np.log(np.clip(blurred[ni, ki, y + dy, x + dx] * s, 1e-10, 50.0))

    c = at(0, 0)
    gx = 0.5 * (at(0, 1) - at(0, -1))
    gy = 0.5 * (at(1, 0) - at(-1, 0))
    dxx = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
    dyy = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
    dxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    det = dxx * dyy - dxy ** 2
    ok = np.abs(det) > 1e-12
    inv_det = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    off_x = -(dyy * gx - dxy * gy) * inv_det
    off_y = -(-dxy * gx + dxx * gy) * inv_det
    # A poorly conditioned Hessian can throw the peak far away; DARK's offset is bounded by a pixel.
    off_x = np.clip(off_x, -1.0, 1.0)
    off_y = np.clip(off_y, -1.0, 1.0)
    keypoints[ni, ki, 0] += off_x
    keypoints[ni, ki, 1] += off_y
    return keypoints


def _blur_matrix(size: int, kernel_size: int) -> np.ndarray:
    """``(size, size)`` matrix of a 1-D Gaussian blur (cv2's kernel for ``kernel_size``, sigma from the size) with
    zeros outside the signal: ``M @ v`` equals ``cv2.GaussianBlur`` with ``BORDER_CONSTANT`` along that axis."""
    g = cv2.getGaussianKernel(kernel_size, 0, ktype=cv2.CV_64F)[:, 0]
    r = kernel_size // 2
    offsets = np.arange(size)[None, :] - np.arange(size)[:, None]  # column minus row
    return np.where(np.abs(offsets) <= r, g[np.clip(offsets + r, 0, kernel_size - 1)], 0.0)
