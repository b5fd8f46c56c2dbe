"""Drawing: skeletons, heatmaps and GC attention maps as images, for the CLI and the apps.

Every function takes and returns ``(H, W, 3)`` uint8 RGB arrays (a new array; inputs are never
modified) and needs only the COCO-17 metadata of :mod:`hrgcnet.structures`. No UI toolkit is imported.

Shapes: ``keypoints (N, K, 3)`` x, y, score in image pixels; ``boxes (N, 4)`` xyxy; ``heatmaps
(K, h, w)`` of one person; ``attention (h, w)`` of one block and one person.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..structures.bbox import get_affine_transform
from ..structures import KEYPOINT_NAMES, SKELETON

if TYPE_CHECKING:
    from ..pipeline import PoseResult

_LEFT = ((0, 114, 255), (0, 160, 255), (60, 200, 255))    # blues: the person's left side
_RIGHT = ((255, 90, 0), (255, 140, 0), (255, 190, 60))    # oranges: the person's right side
_CENTER = (40, 200, 80)                                   # green: torso lines across the body
_FACE = (230, 60, 200)                                    # magenta: face

#: RGB colour of each limb of ``SKELETON`` (same order): left limbs blue, right limbs orange.
LIMB_COLORS: tuple[tuple[int, int, int], ...] = (
    _LEFT[0], _LEFT[1], _RIGHT[0], _RIGHT[1], _CENTER, _LEFT[2], _RIGHT[2], _CENTER,
    _LEFT[1], _RIGHT[1], _LEFT[0], _RIGHT[0], _FACE, _FACE, _FACE, _FACE, _FACE, _LEFT[2], _RIGHT[2],
)
#: RGB colour of each keypoint: face magenta, left blue, right orange.
KEYPOINT_COLORS: tuple[tuple[int, int, int], ...] = tuple(
    _FACE if k < 5 else (_LEFT[0] if k % 2 == 1 else _RIGHT[0]) for k in range(len(KEYPOINT_NAMES)))
BOX_COLOR = (255, 255, 255)
#: What the colours of the drawings mean, for legends: ``(meaning, RGB)``.
COLOR_LEGEND: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("left side (the person's own)", _LEFT[0]), ("right side", _RIGHT[0]), ("torso lines", _CENTER),
    ("face", _FACE), ("box and label", BOX_COLOR))


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got shape {image.shape} and dtype {image.dtype}")
    return image


def _line_width(image: np.ndarray) -> int:
    return max(1, int(round(min(image.shape[:2]) / 250)))


def draw_keypoints(image: np.ndarray, keypoints: np.ndarray, boxes: np.ndarray | None = None,
                   labels: Sequence[str] | None = None, kpt_thr: float = 0.3, thickness: int | None = None,
                   radius: int | None = None) -> np.ndarray:
    """Draw skeletons (and optionally boxes with labels) on a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        keypoints: ``(N, K, 3)``; keypoints with score < ``kpt_thr`` and limbs touching them are skipped.
        boxes: ``(N, 4)`` x1, y1, x2, y2 or None.
        labels: N strings drawn above the boxes (e.g. ``"0: 0.87"``), or None.
        thickness, radius: line width and keypoint radius in pixels (default: from the image size).
    """
    out = _check_image(image).copy()
    kpts = np.asarray(keypoints, dtype=np.float64).reshape(-1, len(KEYPOINT_NAMES), 3)
    lw = thickness or _line_width(out)
    r = radius or lw + 1
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        font_scale = max(0.4, lw * 0.4)
        for i, box in enumerate(boxes):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOR, lw)
            if labels is not None and i < len(labels):
                (tw, th), base = cv2.getTextSize(labels[i], cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
                # inside the image: moved down below the top edge and left from the right edge
                y_text = min(max(y1, th + base), out.shape[0] - 1)
                x_text = max(0, min(x1, out.shape[1] - tw))
                cv2.rectangle(out, (x_text, y_text - th - base), (x_text + tw, y_text), BOX_COLOR, -1)
                cv2.putText(out, labels[i], (x_text, y_text - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                            (0, 0, 0), 1, cv2.LINE_AA)
    for person in kpts:
        ok = np.isfinite(person).all(axis=1) & (person[:, 2] >= kpt_thr)
        for (a, b), color in zip(SKELETON, LIMB_COLORS):
            if ok[a] and ok[b]:
                pa = (int(round(person[a, 0])), int(round(person[a, 1])))
                pb = (int(round(person[b, 0])), int(round(person[b, 1])))
                cv2.line(out, pa, pb, color, lw + 1, cv2.LINE_AA)
        for k, color in enumerate(KEYPOINT_COLORS):
            if ok[k]:
                center = (int(round(person[k, 0])), int(round(person[k, 1])))
                cv2.circle(out, center, r, color, -1, cv2.LINE_AA)
                cv2.circle(out, center, r, (255, 255, 255), max(1, lw // 2), cv2.LINE_AA)
    return out


def enlarge(image: np.ndarray, min_side: int = 384) -> np.ndarray:
    """``image (H, W, 3)`` scaled up by the smallest whole factor that makes its shorter side at least
    ``min_side`` (nearest neighbour: a crop's pixels and a map's cells stay sharp); unchanged when already large."""
    factor = max(1, -(-min_side // max(1, min(image.shape[:2]))))
    return image if factor == 1 else np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def draw_poses(image: np.ndarray, result: "PoseResult", kpt_thr: float = 0.3, show_boxes: bool = True,
               label: str | None = "instance_score") -> np.ndarray:
    """Draw a :class:`~hrgcnet.pipeline.PoseResult` on a copy of ``image``.

    Args:
        label: ``"instance_score"``, ``"box_score"`` or None: what the box labels show (``"#i score"``; ``i`` is
            the track id when the result has them, else the person's index).
    """
    labels = None
    if label is not None:
        if label not in ("instance_score", "box_score"):
            raise ValueError(f"label must be 'instance_score', 'box_score' or None, got {label!r}")
        scores = result.instance_scores if label == "instance_score" else result.box_scores
        names = range(len(scores)) if result.track_ids is None else result.track_ids
        labels = [f"#{i} {float(s):.2f}" for i, s in zip(names, scores)]
    return draw_keypoints(image, result.keypoints, result.boxes if show_boxes else None,
                          labels if show_boxes else None, kpt_thr=kpt_thr)


def colorize(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """A 2-D map ``(h, w)`` -> ``(h, w, 3)`` uint8 RGB (JET colour map) over ``[0, vmax]``.

    ``vmax`` defaults to the map's maximum; negative values count as 0.
    """
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(values.max()) if vmax is None else float(vmax)
    norm = np.clip(values / top, 0.0, 1.0) if top > 0 else np.zeros_like(values)
    bgr = cv2.applyColorMap(np.rint(norm * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _blend(image: np.ndarray, colored: np.ndarray, alpha: float) -> np.ndarray:
    return cv2.addWeighted(colored, float(alpha), image, 1.0 - float(alpha), 0.0)


def heatmap_overlay(crop: np.ndarray, heatmaps: np.ndarray, keypoint: int | None = None,
                    alpha: float = 0.5) -> np.ndarray:
    """Overlay one person's heatmaps ``(K, h, w)`` on its crop ``(H, W, 3)``.

    Args:
        keypoint: index of one keypoint, or None for the maximum over all keypoints.
    """
    crop = _check_image(crop)
    hm = np.asarray(heatmaps, dtype=np.float32)
    if hm.ndim != 3:
        raise ValueError(f"heatmaps must be (K, h, w), got shape {hm.shape}")
    m = hm.max(axis=0) if keypoint is None else hm[keypoint]
    m = cv2.resize(m, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    return _blend(crop, colorize(m), alpha)


def heatmap_grid(crop: np.ndarray, heatmaps: np.ndarray, cols: int = 6, alpha: float = 0.5,
                 names: bool = True) -> np.ndarray:
    """A grid of overlays: all keypoints merged, then each keypoint, labelled with its name.

    Returns ``(rows * H, cols * W, 3)`` uint8 RGB for a crop ``(H, W, 3)`` and heatmaps ``(K, h, w)``.
    """
    crop = _check_image(crop)
    hm = np.asarray(heatmaps, dtype=np.float32)
    tiles = [heatmap_overlay(crop, hm, None, alpha)] + [heatmap_overlay(crop, hm, k, alpha) for k in range(hm.shape[0])]
    titles = ["all"] + [KEYPOINT_NAMES[k] if k < len(KEYPOINT_NAMES) else str(k) for k in range(hm.shape[0])]
    if names:
        scale = max(0.3, crop.shape[1] / 400)
        for tile, title in zip(tiles, titles):
            cv2.putText(tile, title, (3, int(14 * scale * 2)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                        cv2.LINE_AA)
    rows = -(-len(tiles) // cols)
    h, w = crop.shape[:2]
    grid = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    return grid


def heatmaps_on_image(image: np.ndarray, result: "PoseResult", alpha: float = 0.5) -> np.ndarray:
    """Overlay every person's merged heatmap (max over keypoints), warped back into the image frame.

    Needs ``result.heatmaps`` (call the estimator with ``return_heatmaps=True``).
    """
    image = _check_image(image)
    if result.heatmaps is None:
        raise ValueError("result has no heatmaps; call the estimator with return_heatmaps=True")
    h, w = image.shape[:2]
    merged = np.zeros((h, w), dtype=np.float32)
    for hm, c, s in zip(result.heatmaps, result.center, result.scale):
        hm_h, hm_w = hm.shape[-2:]
        to_heatmap = get_affine_transform(c, s, 0.0, (hm_w, hm_h))  # image -> heatmap pixels
        warped = cv2.warpAffine(hm.max(axis=0).astype(np.float32), to_heatmap, (w, h),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        merged = np.maximum(merged, warped)
    return _blend(image, colorize(merged), alpha)


def attention_overlay(crop: np.ndarray, attention: np.ndarray, alpha: float = 0.5,
                      interpolation: str = "nearest") -> np.ndarray:
    """Overlay one GC attention map ``(h, w)`` (α, sums to 1) on its crop ``(H, W, 3)``.

    α is shown relative to its maximum. ``interpolation="nearest"`` keeps the map's cells visible
    (the low-resolution branches have maps as small as 8x6); ``"bilinear"`` smooths them.
    """
    crop = _check_image(crop)
    a = np.asarray(attention, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"attention must be (h, w), got shape {a.shape}")
    flag = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR}.get(interpolation)
    if flag is None:
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    a = cv2.resize(a, (crop.shape[1], crop.shape[0]), interpolation=flag)
    return _blend(crop, colorize(a), alpha)
