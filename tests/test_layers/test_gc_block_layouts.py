"""The GC block's channels_last path (a speed change) computes the same function as the original implementation."""

import pytest
import torch
from torch import nn

from hrgcnet.layers import GlobalContextBlock
from hrgcnet.models import capture_gc_attention, create_model


def reference_spatial_pool(block: GlobalContextBlock, x: torch.Tensor) -> torch.Tensor:
    """The original implementation (before the channels_last path): ``(B, C, H, W)`` -> ``(B, C, 1, 1)``."""
    b, c, h, w = x.shape
    logits = block.conv_mask(x).reshape(b, 1, h * w)
    alpha = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
    feats = x.reshape(b, c, h * w)
    context = torch.bmm(feats, alpha.to(feats.dtype).transpose(1, 2))
    return context.reshape(b, c, 1, 1)


def reference_forward(block: GlobalContextBlock, x: torch.Tensor) -> torch.Tensor:
    return x + block.channel_add_conv(reference_spatial_pool(block, x))


def random_block(channels: int, ratio: float, seed: int) -> GlobalContextBlock:
    torch.manual_seed(seed)
    block = GlobalContextBlock(channels, ratio)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn_like(p) * 0.3)  # the last conv is zero at init: make the block non-trivial
    return block


def outputs_and_grads(fn, block: nn.Module, x: torch.Tensor, grad_out: torch.Tensor):
    x = x.detach().requires_grad_()
    y = fn(x)
    grads = torch.autograd.grad(y, [x, *block.parameters()], grad_out)
    return y.detach(), grads


@pytest.mark.parametrize("channels,ratio,hw", [(32, 1 / 4, (8, 6)), (64, 1 / 2, (5, 7)), (16, 1 / 16, (1, 1))])
def test_channels_last_matches_reference_fp64(channels, ratio, hw):
    block = random_block(channels, ratio, seed=channels).double()
    x = torch.randn(3, channels, *hw, dtype=torch.float64)
    g = torch.randn(3, channels, *hw, dtype=torch.float64)
    ref_y, ref_grads = outputs_and_grads(lambda t: reference_forward(block, t), block, x, g)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    y, grads = outputs_and_grads(block, block, x_cl, g)
    torch.testing.assert_close(y, ref_y, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_channels_last_keeps_the_layout_of_output_and_gradient():
    block = random_block(32, 1 / 4, seed=0)
    x = torch.randn(2, 32, 8, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    y = block(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    y.backward(torch.randn(2, 32, 8, 6).contiguous(memory_format=torch.channels_last))
    assert x.grad.is_contiguous(memory_format=torch.channels_last)


def test_bf16_autocast_matches_reference_within_bf16_tolerance():
    block = random_block(64, 1 / 4, seed=3)
    x = torch.randn(4, 64, 16, 12)
    g = torch.randn(4, 64, 16, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref_y, ref_grads = outputs_and_grads(lambda t: reference_forward(block, t.bfloat16()), block, x, g)
        y, grads = outputs_and_grads(lambda t: block(t.bfloat16().contiguous(memory_format=torch.channels_last)),
                                     block, x, g)
    assert y.dtype == ref_y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), ref_y.float(), rtol=2e-2, atol=2e-2)
    names = ["x"] + [n for n, _ in block.named_parameters()]
    for name, got, want in zip(names, grads, ref_grads):
        assert got.dtype == want.dtype, name
        if name == "conv_mask.bias":  # exactly 0 (softmax ignores a shift): both are bf16 rounding noise
            continue
        scale = want.float().abs().max().clamp_min(1e-6)
        assert (got.float() - want.float()).abs().max() / scale < 3e-2, name


def test_attention_maps_equal_in_both_layouts():
    model = create_model("hrgcnet-w32").double().eval()
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad(), capture_gc_attention(model) as maps:
        y = model(x)
    with torch.no_grad(), capture_gc_attention(model.to(memory_format=torch.channels_last)) as maps_cl:
        y_cl = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(y_cl, y, rtol=1e-10, atol=1e-12)
    assert maps.keys() == maps_cl.keys() and len(maps) == 36
    for name in maps:
        torch.testing.assert_close(maps_cl[name], maps[name], rtol=1e-10, atol=1e-12)


def test_whole_model_gradients_equal_in_both_layouts():
    torch.manual_seed(0)
    model = create_model("hrgcnet-w32").double().train()
    for block in model.modules():
        if isinstance(block, GlobalContextBlock):  # zero-initialised: randomise so the GC path matters
            nn.init.normal_(block.channel_add_conv[-1].weight, std=0.1)
    x = torch.randn(2, 3, 64, 32, dtype=torch.float64)
    ref = {k: v.clone() for k, v in model.state_dict().items()}
    model(x).square().mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    model.load_state_dict(ref)  # BN running stats moved: restore
    model.to(memory_format=torch.channels_last)
    model(x.contiguous(memory_format=torch.channels_last)).square().mean().backward()
    # Some gradients are zero up to rounding (conv_mask.bias: softmax ignores a shift; a bias right before a
    # BN): compare against the scale of the largest gradient, not their own.
    scale = max(g.abs().max().item() for g in grads.values())
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], rtol=1e-7, atol=1e-9 * scale, msg=n)
