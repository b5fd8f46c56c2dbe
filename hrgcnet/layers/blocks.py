"""ResNet blocks with the official HRNet parameter names (``conv1``, ``bn1``, ..., ``downsample``).

Both blocks take an optional ``gc_ratio``: a :class:`GlobalContextBlock` (attribute ``gc``) on the
residual branch after the last BN and before the add, as placed by GCNet.
"""

from __future__ import annotations

import torch
from torch import nn

from .gc_block import GlobalContextBlock

BN_MOMENTUM = 0.1


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution with no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    """Two 3x3 convs + identity: ``(B, inplanes, H, W)`` -> ``(B, planes, H/stride, W/stride)``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 gc_ratio: float | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = batch_norm(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = batch_norm(planes)
        self.gc = GlobalContextBlock(planes, gc_ratio) if gc_ratio else None
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.gc is not None:
            out = self.gc(out)
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (x4 expansion) + identity: ``(B, inplanes, H, W)`` -> ``(B, 4*planes, H/s, W/s)``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 gc_ratio: float | None = None) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = batch_norm(planes)
        self.conv3 = conv1x1(planes, out_planes)
        self.bn3 = batch_norm(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.gc = GlobalContextBlock(out_planes, gc_ratio) if gc_ratio else None
        self.downsample = downsample

    def spatial_conv(self, x: torch.Tensor) -> torch.Tensor:
        """The 3x3 stage, ``conv2`` + ``bn2`` (overridden by the lightweight bottleneck)."""
        return self.bn2(self.conv2(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.spatial_conv(out))
        out = self.bn3(self.conv3(out))
        if self.gc is not None:
            out = self.gc(out)
        return self.relu(out + residual)
