"""The lightweight bottleneck of HRGCNet (paper Fig. 2(b)).

The bottleneck's 3x3 conv becomes a depthwise-separable conv — a depthwise 3x3 (``conv2_dw`` +
``bn2_dw``) followed by a pointwise 1x1 (``conv2_pw`` + ``bn2``) with no nonlinearity in between
(Xception's form) — and a GC block sits on the residual branch before the add. ``bn2`` keeps its
official name and shape, so it is copied when initialising from an HRNet checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import Bottleneck, batch_norm, conv1x1


class LightweightBottleneck(Bottleneck):
    """Bottleneck with a depthwise-separable 3x3 and a GC block (``gc_ratio``; default 1/4).

    Shapes: ``(B, inplanes, H, W)`` -> ``(B, 4*planes, H/stride, W/stride)``.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 gc_ratio: float | None = 1 / 4) -> None:
        super().__init__(inplanes, planes, stride, downsample, gc_ratio)
        del self.conv2
        self.conv2_dw = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, groups=planes, bias=False)
        self.bn2_dw = batch_norm(planes)
        self.conv2_pw = conv1x1(planes, planes)

    def spatial_conv(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2_pw(self.bn2_dw(self.conv2_dw(x))))
