import pytest
import torch
import torch.nn.functional as F

from hrgcnet.layers.attention_pool import attention_pool


def autograd_reference(feats, weight, bias):
    """The module-by-module formulation whose autograd the custom backward replaces."""
    logits = F.linear(feats, weight, bias).transpose(1, 2)  # (B, 1, N)
    alpha = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
    return torch.bmm(alpha.to(feats.dtype), feats), alpha


def inputs(b=2, n=7, c=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=dtype).requires_grad_() for shape in ((b, n, c), (1, c), (1,))]


def test_gradcheck_fp64():
    assert torch.autograd.gradcheck(lambda f, w, b: attention_pool(f, w, b)[0], inputs())


@pytest.mark.parametrize("shape", [(3, 12, 32), (2, 1, 4), (1, 768, 8)])
def test_matches_autograd_of_the_reference(shape):
    b, n, c = shape
    feats, weight, bias = inputs(b, n, c, seed=n)
    grad = torch.randn(b, 1, c, dtype=torch.float64)
    ctx, alpha = attention_pool(feats, weight, bias)
    ref_ctx, ref_alpha = autograd_reference(feats, weight, bias)
    torch.testing.assert_close(ctx, ref_ctx, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(alpha, ref_alpha, rtol=1e-12, atol=1e-12)
    got = torch.autograd.grad(ctx, (feats, weight, bias), grad)
    want = torch.autograd.grad(ref_ctx, (feats, weight, bias), grad)
    for a, r in zip(got, want):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-12)
    assert not alpha.requires_grad and alpha.sum(-1).sub(1).abs().max() < 1e-12


def test_autocast_dtypes_follow_the_reference():
    feats, weight, bias = (t.detach().float().requires_grad_() for t in inputs(4, 48, 16, seed=1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ctx, alpha = attention_pool(feats, weight, bias)
        ref_ctx, ref_alpha = autograd_reference(feats, weight, bias)
    assert ctx.dtype == ref_ctx.dtype == torch.bfloat16 and alpha.dtype == ref_alpha.dtype == torch.float32
    torch.testing.assert_close(ctx.float(), ref_ctx.float(), rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(alpha, ref_alpha, rtol=2e-2, atol=1e-3)
    grad = torch.randn(4, 1, 16)
    got = torch.autograd.grad(ctx, (feats, weight), grad)
    want = torch.autograd.grad(ref_ctx, (feats, weight), grad)
    for a, r in zip(got, want):
        assert a.dtype == r.dtype == torch.float32
        assert (a - r).abs().max() / r.abs().max() < 3e-2
