"""Heatmap loss of the official HRNet (``lib/core/loss.py``)."""

from __future__ import annotations

import torch
from torch import nn


class JointsMSELoss(nn.Module):
    """``0.5 * MSE(pred * w, target * w)`` per keypoint, averaged over keypoints, batch and pixels.

    Identical to the official loop ``sum_k 0.5 * mse(pred_k * w_k, gt_k * w_k) / K`` (each ``mse`` a mean
    over the batch and pixels), written without the loop.

    Args:
        use_target_weight: multiply predictions and targets by the per-keypoint weights.

    Shapes: ``heatmaps, targets (N, K, h, w)``; ``target_weight (N, K)`` or ``(N, K, 1)``.
    Computed in float32 whatever the dtype of ``heatmaps`` (autocast outputs bf16/fp16).
    """

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, heatmaps: torch.Tensor, targets: torch.Tensor,
                target_weight: torch.Tensor | None = None) -> torch.Tensor:
        if heatmaps.shape != targets.shape:
            raise ValueError(f"heatmaps {tuple(heatmaps.shape)} and targets {tuple(targets.shape)} differ")
        diff = heatmaps.float() - targets.float()
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError("use_target_weight=True needs target_weight (N, K)")
            w = target_weight.float().reshape(heatmaps.shape[0], heatmaps.shape[1], 1, 1)
            diff = diff * w
        return 0.5 * diff.pow(2).mean()
