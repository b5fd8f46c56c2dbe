"""Building blocks: ResNet blocks with official HRNet names, the GC block, the lightweight bottleneck."""

from .blocks import BasicBlock, Bottleneck, conv1x1, conv3x3
from .gc_block import GlobalContextBlock
from .lightweight import LightweightBottleneck

__all__ = ["BasicBlock", "Bottleneck", "GlobalContextBlock", "LightweightBottleneck", "conv1x1", "conv3x3"]
