"""Box <-> center/scale conversion and the crop affine transform of the official HRNet.

A person box is padded to the network's aspect ratio, enlarged by ``BOX_PADDING`` (1.25) and
expressed as ``center`` (x, y pixels) and ``scale`` (w, h in units of ``PIXEL_STD`` = 200 px),
exactly as ``_box2cs`` in the official code. :func:`get_affine_transform` maps that region (optionally
rotated) onto an output grid of ``output_wh``; ``inv=True`` gives the inverse map.

Shapes: ``boxes (N, 4)`` xyxy; ``center, scale (N, 2)``; points ``(..., 2)`` x, y.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import BOX_PADDING, PIXEL_STD


def box_xyxy_to_center_scale(boxes: np.ndarray, input_hw: tuple[int, int],
                             padding: float = BOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """Convert boxes ``(N, 4)`` xyxy to ``center (N, 2)`` and ``scale (N, 2)`` (pixel_std units).

    The box is padded (never cropped) to the aspect ratio ``w / h`` of ``input_hw`` and multiplied by
    ``padding``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    aspect = input_hw[1] / input_hw[0]
    center = np.stack([(boxes[:, 0] + boxes[:, 2]) * 0.5, (boxes[:, 1] + boxes[:, 3]) * 0.5], axis=1)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    w, h = np.where(w > aspect * h, w, h * aspect), np.where(w > aspect * h, w / aspect, h)
    scale = np.stack([w, h], axis=1) / PIXEL_STD * padding
    return center, scale


def center_scale_to_box_xyxy(center: np.ndarray, scale: np.ndarray,
                             padding: float = BOX_PADDING) -> np.ndarray:
    """Inverse of :func:`box_xyxy_to_center_scale` up to the aspect padding: ``(N, 4)`` xyxy."""
    wh = np.asarray(scale, dtype=np.float64) * PIXEL_STD / padding
    c = np.asarray(center, dtype=np.float64)
    return np.concatenate([c - wh / 2, c + wh / 2], axis=-1)


def get_affine_transform(center: np.ndarray, scale: np.ndarray, rot: float,
                         output_wh: tuple[float, float], inv: bool = False) -> np.ndarray:
    """The ``2x3`` matrix mapping the rotated ``center/scale`` region onto ``output_wh`` pixels.

    Equivalent to the official three-point construction: the region's width ``scale[0] * 200``
    maps to ``output_wh[0]``, the region is rotated by ``rot`` degrees (counter-clockwise in the
    image as displayed) about ``center``, and ``center`` lands on the middle of the output.
    """
    src_w = float(scale[0]) * PIXEL_STD
    s = output_wh[0] / src_w
    theta = np.deg2rad(rot)
    cs, sn = np.cos(theta), np.sin(theta)
    # dst = s * R(-theta) @ (p - center) + dst_center, with R as in the official get_dir.
    lin = s * np.array([[cs, sn], [-sn, cs]])
    dst_center = np.array([output_wh[0] * 0.5, output_wh[1] * 0.5])
    if inv:
        lin_inv = np.array([[cs, -sn], [sn, cs]]) / s
        return np.concatenate([lin_inv, (np.asarray(center, np.float64) - lin_inv @ dst_center)[:, None]], 1)
    return np.concatenate([lin, (dst_center - lin @ np.asarray(center, np.float64))[:, None]], axis=1)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``2x3`` affine ``matrix`` to points ``(..., 2)``; returns float64 ``(..., 2)``."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def warp_crop(image: np.ndarray, center: np.ndarray, scale: np.ndarray, input_hw: tuple[int, int],
              rot: float = 0.0) -> np.ndarray:
    """Cut the ``center/scale`` region out of ``image (H, W, C)`` into a ``input_hw`` crop.

    Bilinear sampling, zeros outside the image (official ``cv2.warpAffine`` call).
    """
    out_wh = (int(input_hw[1]), int(input_hw[0]))
    matrix = get_affine_transform(center, scale, rot, out_wh)
    return cv2.warpAffine(image, matrix, out_wh, flags=cv2.INTER_LINEAR)


def heatmap_to_image_coords(coords: np.ndarray, center: np.ndarray, scale: np.ndarray,
                            heatmap_hw: tuple[int, int]) -> np.ndarray:
    """Map heatmap pixel coordinates ``(N, K, 2)`` of each crop back to image pixels ``(N, K, 2)``."""
    coords = np.asarray(coords, dtype=np.float64)
    out = np.empty_like(coords)
    for i in range(coords.shape[0]):
        inv = get_affine_transform(center[i], scale[i], 0.0, (heatmap_hw[1], heatmap_hw[0]), inv=True)
        out[i] = transform_points(coords[i], inv)
    return out
