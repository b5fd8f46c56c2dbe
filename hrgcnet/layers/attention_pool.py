"""The GC block's attention pooling on position-major features, with a backward that reads and writes less.

``context = Σ_j α_j x_j`` with ``α = softmax_j(x_j · w + b)``, the same function as the module-by-module
version (``conv_mask`` -> softmax -> ``bmm``) and the same precisions: the logits and the pooling in the dtype of
the features, the softmax in at least fp32. Autograd of that version writes two ``(B, N, C)`` gradients of the
features (one per use of ``x``) and adds them; this backward writes their sum with one batched matmul
``[α, ∂logits] @ [∂context; w]`` and computes ``∂w`` in one pass, which matters because the GC block is
memory-bound (measured in docs/training-speed.md). ``torch.autograd.gradcheck`` checks it in the tests.

Note:
    B batch, N = H*W positions, C channels. ``feats (B, N, C)`` (a free view of a channels_last tensor),
    ``weight (1, C)`` and ``bias (1,)`` in the features' dtype; returns ``context (B, 1, C)`` and
    ``alpha (B, 1, N)`` (at least fp32, no gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class AttentionPool(torch.autograd.Function):
    """See the module docstring; use :func:`attention_pool`."""

    @staticmethod
    def forward(ctx, feats: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
        logits = F.linear(feats, weight, bias).transpose(1, 2)  # (B, 1, N)
        alpha = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)  # (B, 1, N)
        context = torch.bmm(alpha.to(feats.dtype), feats)  # (B, 1, C)
        ctx.save_for_backward(feats, weight, alpha)
        ctx.mark_non_differentiable(alpha)
        return context, alpha

    @staticmethod
    def backward(ctx, grad_context: torch.Tensor, _grad_alpha: torch.Tensor | None):
        feats, weight, alpha = ctx.saved_tensors
        b, _, c = feats.shape
        grad_context = grad_context.to(feats.dtype)  # (B, 1, C)
        grad_alpha = torch.bmm(grad_context, feats.transpose(1, 2)).to(alpha.dtype)  # ∂α_j = ∂context · x_j  (B, 1, N)
        grad_logits = alpha * (grad_alpha - (alpha * grad_alpha).sum(-1, keepdim=True))  # softmax backward
        grad_logits_f = grad_logits.to(feats.dtype)
        # ∂x_j = α_j ∂context + ∂logit_j w, both terms in one matmul: (B, N, 2) @ (B, 2, C)
        coeffs = torch.cat([alpha.to(feats.dtype), grad_logits_f], dim=1).transpose(1, 2)
        vectors = torch.cat([grad_context, weight.expand(b, 1, c)], dim=1)
        grad_feats = torch.bmm(coeffs, vectors)  # (B, N, C)
        grad_weight = torch.bmm(grad_logits_f, feats).sum(0)  # Σ_j ∂logit_j x_j  (1, C)
        grad_bias = grad_logits.sum().reshape(1).to(feats.dtype)
        return grad_feats, grad_weight, grad_bias


def attention_pool(feats: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(context (B, 1, C), alpha (B, 1, N))`` of ``feats (B, N, C)``; see the module docstring.

    Under CPU/CUDA autocast the features, weight and bias are cast to the autocast dtype first (as ``F.linear``
    and ``torch.bmm`` would be); otherwise weight and bias follow the features' dtype.
    """
    device = feats.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else feats.dtype
    with torch.autocast(device, enabled=False):
        return AttentionPool.apply(feats.to(dtype), weight.to(dtype), bias.to(dtype))
