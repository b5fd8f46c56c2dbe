"""Reading the GC blocks' attention maps α without hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..layers.gc_block import GlobalContextBlock


def gc_blocks(model: nn.Module) -> dict[str, GlobalContextBlock]:
    """The model's GC blocks keyed by block name (``stage1.block0``, ``stage2.module0.branch0.block3``), in order."""
    return {m.block_name: m for m in model.modules() if isinstance(m, GlobalContextBlock)}


@contextmanager
def capture_gc_attention(model: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Collect every GC block's attention map during the forward passes inside the ``with`` block.

    Yields a dict filled by the forward: ``{block_name: α (N, h, w)}`` (float32, each map sums to 1).
    The model's output is unchanged; outside the context the blocks store nothing.
    """
    maps: dict[str, torch.Tensor] = {}
    blocks = gc_blocks(model).values()
    for block in blocks:
        block.attention_sink = maps
    try:
        yield maps
    finally:
        for block in blocks:
            block.attention_sink = None
