import torch

from hrgcnet.layers import Bottleneck, LightweightBottleneck
from hrgcnet.layers.blocks import conv1x1


def test_depthwise_separable_replaces_the_3x3():
    block = LightweightBottleneck(256, 64)
    assert not hasattr(block, "conv2")
    assert block.conv2_dw.groups == 64 and block.conv2_dw.kernel_size == (3, 3)
    assert block.conv2_pw.kernel_size == (1, 1)
    assert block.gc is not None and block.gc.channels == 256
    dense = Bottleneck(256, 64)
    saved = dense.conv2.weight.numel() - (block.conv2_dw.weight.numel() + block.conv2_pw.weight.numel())
    assert saved == 64 * 64 * 9 - (64 * 9 + 64 * 64)


def test_forward_shape_and_stride():
    down = torch.nn.Sequential(conv1x1(64, 256, stride=2), torch.nn.BatchNorm2d(256))
    block = LightweightBottleneck(64, 64, stride=2, downsample=down)
    assert block(torch.randn(2, 64, 16, 12)).shape == (2, 256, 8, 6)


def test_gc_sits_before_the_residual_add():
    # With the GC block's output conv zero-initialised, the block equals a plain DWS bottleneck.
    block = LightweightBottleneck(256, 64).eval()
    x = torch.randn(1, 256, 8, 6)
    with_gc = block(x)
    block.gc = None
    torch.testing.assert_close(with_gc, block(x))
