"""MSRA Gaussian heatmaps (Xiao et al. 2018; official HRNet ``generate_target`` / ``get_final_preds``).

Note:
    K: number of keypoints; N: number of crops.
    ``input_hw`` is the crop size (H, W); ``heatmap_hw`` the heatmap size (h, w), normally 1/4.
    Encoding takes keypoints in crop pixels, decoding returns keypoints in heatmap pixels
    (map them to the image with :func:`hrgcnet.structures.bbox.heatmap_to_image_coords`).
"""

from __future__ import annotations

import numpy as np

from .refine import refine_keypoints_dark, refine_keypoints_quarter


class MSRAHeatmap:
    """Encode keypoints as Gaussian heatmaps and decode heatmaps back to keypoints.

    Args:
        input_hw: crop size (H, W).
        heatmap_hw: heatmap size (h, w).
        sigma: Gaussian standard deviation in heatmap pixels (official: 2 at 64x48).
        unbiased: centre the Gaussian at the exact sub-pixel location instead of the official
            rounded one (Zhang et al. 2020, "DARK"); pairs with ``refine="dark"``.
        refine: ``"quarter"`` (official quarter-pixel offset), ``"dark"`` or ``"none"``.
    """

    def __init__(self, input_hw: tuple[int, int], heatmap_hw: tuple[int, int], sigma: float = 2.0,
                 unbiased: bool = False, refine: str = "quarter") -> None:
        if refine not in ("quarter", "dark", "none"):
            raise ValueError(f"refine must be 'quarter', 'dark' or 'none', got {refine!r}")
        self.input_hw = tuple(int(v) for v in input_hw)
        self.heatmap_hw = tuple(int(v) for v in heatmap_hw)
        self.sigma = float(sigma)
        self.unbiased = unbiased
        self.refine = refine

    @property
    def stride(self) -> np.ndarray:
        """Crop pixels per heatmap pixel as (x, y)."""
        return np.array([self.input_hw[1] / self.heatmap_hw[1], self.input_hw[0] / self.heatmap_hw[0]])

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode one crop's keypoints.

        Args:
            keypoints: ``(K, 2)`` x, y in crop pixels.
            visible: ``(K,)`` labelled flags or weights (> 0 means labelled).

        Returns:
            heatmaps ``(K, h, w)`` float32 with peak 1, and weights ``(K,)`` float32: 0 for
            unlabelled keypoints and for Gaussians entirely off the map (official rule).
        """
        keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
        num = keypoints.shape[0]
        h, w = self.heatmap_hw
        heatmaps = np.zeros((num, h, w), dtype=np.float32)
        weights = (np.asarray(visible, dtype=np.float32).reshape(num) > 0).astype(np.float32)
        radius = self.sigma * 3
        mu = keypoints / self.stride
        if not self.unbiased:
            mu = np.floor(mu + 0.5)
        xs = np.arange(w, dtype=np.float64)
        ys = np.arange(h, dtype=np.float64)
        for k in range(num):
            if weights[k] == 0:
                continue
            mx, my = mu[k]
            if not (np.isfinite(mx) and np.isfinite(my)):
                weights[k] = 0
                continue
            # Official visibility rule: the (2*3*sigma+1)^2 window must touch the map.
            ul = (int(mx - radius), int(my - radius))
            br = (int(mx + radius + 1), int(my + radius + 1))
            if ul[0] >= w or ul[1] >= h or br[0] < 0 or br[1] < 0:
                weights[k] = 0
                continue
            x0, x1 = max(ul[0], 0), min(br[0], w)
            y0, y1 = max(ul[1], 0), min(br[1], h)
            gx = np.exp(-((xs[x0:x1] - mx) ** 2) / (2 * self.sigma ** 2))
            gy = np.exp(-((ys[y0:y1] - my) ** 2) / (2 * self.sigma ** 2))
            heatmaps[k, y0:y1, x0:x1] = np.outer(gy, gx)
        return heatmaps, weights

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decode heatmaps ``(N, K, h, w)`` to keypoints ``(N, K, 2)`` in heatmap pixels and scores ``(N, K)``.

        Scores are the heatmap maxima; keypoints whose maximum is <= 0 are left at (0, 0) as in the
        official ``get_max_preds``.
        """
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        if heatmaps.ndim != 4:
            raise ValueError(f"heatmaps must be (N, K, h, w), got shape {heatmaps.shape}")
        keypoints, scores = get_heatmap_maximum(heatmaps)
        if self.refine == "quarter":
            keypoints = refine_keypoints_quarter(keypoints, heatmaps)
        elif self.refine == "dark":
            # DARK's reference kernel: 11 for sigma 2 (DarkPose, mmpose), 17 for sigma 3 (mmpose 384x288).
            keypoints = refine_keypoints_dark(keypoints, heatmaps, blur_kernel_size=int(round(6 * self.sigma - 1)) | 1)
        keypoints[scores <= 0] = 0
        return keypoints, scores


def get_heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer argmax locations ``(N, K, 2)`` (x, y) and maxima ``(N, K)`` of heatmaps ``(N, K, h, w)``."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    idx = np.argmax(flat, axis=2)
    scores = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0]
    keypoints = np.stack([idx % w, idx // w], axis=-1).astype(np.float64)
    return keypoints, scores.astype(np.float32)
