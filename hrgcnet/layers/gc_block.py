"""Global context block (Cao et al., "GCNet: Non-local Networks Meet Squeeze-Excitation Networks
and Beyond", ICCVW 2019; official code xvjiarui/GCNet, mmcv ``ContextBlock``).

HRGCNet eq. (2)-(3)::

    z_i = x_i + W_v2 · ReLU(LN(W_v1 · Σ_j α_j x_j)),   α = softmax_j(W_k x_j)

The attention α is query-independent: one map over all H·W positions per image. Parameter names
follow mmcv's ``ContextBlock`` (``conv_mask``, ``channel_add_conv``) so GCNet weights map 1:1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention_pool import attention_pool


class GlobalContextBlock(nn.Module):
    """GC block with attention pooling and channel-add fusion.

    Args:
        channels: C, the input and output channels.
        ratio: bottleneck ratio r of the transform, hidden channels ``max(1, round(C * r))``.

    Shapes: input ``(B, C, H, W)`` -> output ``(B, C, H, W)``.

    The last 1x1 conv is zero-initialised, so a new block is the identity. Set ``attention_sink`` to a
    dict (see :func:`hrgcnet.models.capture_gc_attention`) to receive α as ``(B, H, W)`` under
    ``block_name``; otherwise nothing is stored and the forward costs nothing extra.
    """

    def __init__(self, channels: int, ratio: float = 1 / 4) -> None:
        super().__init__()
        if channels < 1 or ratio <= 0:
            raise ValueError(f"GlobalContextBlock needs channels >= 1 and ratio > 0, got {channels}, {ratio}")
        hidden = max(1, int(round(channels * ratio)))
        self.channels = channels
        self.ratio = ratio
        self.conv_mask = nn.Conv2d(channels, 1, kernel_size=1)  # W_k
        self.channel_add_conv = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=1),  # W_v1
            nn.LayerNorm([hidden, 1, 1]),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1),  # W_v2
        )
        self.block_name = ""
        self.attention_sink: dict[str, torch.Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.conv_mask.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(self.conv_mask.bias)
        last = self.channel_add_conv[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def spatial_pool(self, x: torch.Tensor) -> torch.Tensor:
        """Attention pooling ``Σ_j α_j x_j``: ``(B, C, H, W)`` -> ``(B, C, 1, 1)``.

        Computed in the layout of ``x``. A channels_last tensor is read as ``(B, H*W, C)`` without a copy and
        pooled by :func:`~hrgcnet.layers.attention_pool.attention_pool` (``W_k`` as a matmul with ``conv_mask``'s
        weights, a backward with fewer passes over ``x``), so neither the forward nor the gradient of ``x``
        changes memory format; a contiguous tensor is read as ``(B, C, H*W)`` module by module. Same function.
        """
        b, c, h, w = x.shape
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            feats = x.permute(0, 2, 3, 1).reshape(b, h * w, c)  # (B, H*W, C), a view
            context, alpha = attention_pool(feats, self.conv_mask.weight.reshape(1, c), self.conv_mask.bias)
            self._store_attention(alpha, b, h, w)  # alpha (B, 1, H*W)
            return context.reshape(b, c, 1, 1)  # from (B, 1, C)
        feats = x.reshape(b, c, h * w)  # (B, C, H*W)
        logits = self.conv_mask(x).reshape(b, 1, h * w)  # (B, 1, H*W)
        # (B, 1, H*W), softmax over all positions, at least in fp32 under autocast
        alpha = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
        self._store_attention(alpha, b, h, w)
        context = torch.bmm(feats, alpha.to(feats.dtype).transpose(1, 2))  # (B, C, 1)
        return context.reshape(b, c, 1, 1)

    def _store_attention(self, alpha: torch.Tensor, b: int, h: int, w: int) -> None:
        if self.attention_sink is not None:
            self.attention_sink[self.block_name] = alpha.detach().reshape(b, h, w)

    def transform(self, context: torch.Tensor) -> torch.Tensor:
        """``W_v2 · ReLU(LN(W_v1 · context))``: ``(B, C, 1, 1)`` -> ``(B, C, 1, 1)``.

        ``channel_add_conv``'s parameters applied as matmuls on ``(B, C)``: a 1x1 conv of a 1x1 map and a
        LayerNorm over ``[hidden, 1, 1]`` are exactly these, without the convolution's per-call overhead
        (measured in docs/training-speed.md).
        """
        conv1, norm, _, conv2 = self.channel_add_conv
        b, c = context.shape[:2]
        y = F.linear(context.reshape(b, c), conv1.weight.flatten(1), conv1.bias)  # (B, hidden)
        # the normalised shape from the layer, not from y: a constant in an exported (ONNX) graph
        y = F.relu(F.layer_norm(y, (conv1.out_channels,), norm.weight.flatten(), norm.bias.flatten(), norm.eps))
        return F.linear(y, conv2.weight.flatten(1), conv2.bias).reshape(b, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.transform(self.spatial_pool(x))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, ratio={self.ratio}"
