import numpy as np
import pytest
import torch

from hrgcnet.layers import GlobalContextBlock


def gc_reference(x: np.ndarray, block: GlobalContextBlock) -> np.ndarray:
    """Independent NumPy implementation of the paper's eq. (2)-(3) for x (B, C, H, W)."""
    p = {k: v.detach().double().numpy() for k, v in block.state_dict().items()}
    b, c, h, w = x.shape
    out = np.empty_like(x)
    for n in range(b):
        feats = x[n].reshape(c, h * w)  # x_j as columns
        logits = p["conv_mask.weight"].reshape(1, c) @ feats + p["conv_mask.bias"]  # W_k x_j
        alpha = np.exp(logits - logits.max())
        alpha /= alpha.sum()
        pooled = feats @ alpha.ravel()  # sum_j alpha_j x_j  (C,)
        t = p["channel_add_conv.0.weight"].reshape(-1, c) @ pooled + p["channel_add_conv.0.bias"]  # W_v1
        t = (t - t.mean()) / np.sqrt(t.var() + 1e-5)  # LayerNorm over (C*r, 1, 1)
        t = t * p["channel_add_conv.1.weight"].ravel() + p["channel_add_conv.1.bias"].ravel()
        t = np.maximum(t, 0)  # ReLU
        t = p["channel_add_conv.3.weight"].reshape(c, -1) @ t + p["channel_add_conv.3.bias"]  # W_v2
        out[n] = x[n] + t[:, None, None]  # broadcast add to every position
    return out


def randomise(block: GlobalContextBlock, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in block.parameters():
            param.copy_(torch.randn(param.shape, generator=g) * 0.5)


@pytest.mark.parametrize("channels,ratio,hw", [(32, 1 / 4, (8, 6)), (64, 1 / 2, (5, 7)), (16, 1 / 16, (3, 3))])
def test_matches_numpy_reference(channels, ratio, hw):
    block = GlobalContextBlock(channels, ratio).double().eval()
    randomise(block, seed=channels)
    x = torch.randn(3, channels, *hw, dtype=torch.float64)
    expected = gc_reference(x.numpy(), block)
    got = block(x).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("channels,ratio", [(32, 1 / 4), (16, 1 / 16), (3, 1.0)])
def test_transform_equals_the_conv_modules_with_gradients(channels, ratio):
    """``transform`` (matmuls on ``(B, C)``) is ``channel_add_conv`` (1x1 convs on ``(B, C, 1, 1)``)."""
    block = GlobalContextBlock(channels, ratio).double()
    randomise(block, seed=channels + 1)
    context = torch.randn(4, channels, 1, 1, dtype=torch.float64)
    got, want = block.transform(context), block.channel_add_conv(context)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    params = list(block.channel_add_conv.parameters())
    grad = torch.randn_like(got)
    for a, b in zip(torch.autograd.grad(got, params, grad), torch.autograd.grad(want, params, grad)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_zero_init_is_identity():
    block = GlobalContextBlock(32)
    x = torch.randn(2, 32, 16, 12)
    assert torch.equal(block(x), x)
    assert torch.count_nonzero(block.channel_add_conv[-1].weight) == 0


def test_param_count_matches_formula():
    # 2 r C^2 + C (2 + 3 r) + 1 (reference notes): 601, 2225, 8545, 33473 at r = 1/4
    for c, expected in [(32, 601), (64, 2225), (128, 8545), (256, 33473)]:
        assert sum(p.numel() for p in GlobalContextBlock(c, 1 / 4).parameters()) == expected


def test_attention_sink_shape_sum_and_no_change_of_output():
    block = GlobalContextBlock(32).eval()
    randomise(block, seed=1)
    block.block_name = "test.block"
    x = torch.randn(2, 32, 16, 12)
    plain = block(x)
    sink = {}
    block.attention_sink = sink
    captured = block(x)
    block.attention_sink = None
    assert torch.equal(plain, captured)
    alpha = sink["test.block"]
    assert alpha.shape == (2, 16, 12)
    torch.testing.assert_close(alpha.sum(dim=(1, 2)), torch.ones(2))
    assert (alpha >= 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError):
        GlobalContextBlock(0)
    with pytest.raises(ValueError):
        GlobalContextBlock(32, ratio=0)
