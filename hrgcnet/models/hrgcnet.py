"""HRGCNet presets and builders: where the lightweight bottlenecks and GC blocks sit.

The paper's text puts "bottleneck blocks with lightweight GC blocks" in the high-resolution subnet;
its Table I (29.6M params, 7.11 GFLOPs for W32) is inconsistent with a stage-1-only change (which
stays at ~28.5M and lowers FLOPs to ~6.76G). So GC placement is an explicit preset:

* ``text`` (default, model ``hrgcnet-w32``): stage 1 = four lightweight bottlenecks (depthwise-separable
  3x3 + GC, r = 1/4); GC blocks (r = 1/4) in every BasicBlock of the highest-resolution branch of
  stages 2-4.
* ``table1`` (model ``hrgcnet-w32-table1``): the standard stage 1, GC blocks (r = 1/2) in every
  BasicBlock of every branch of stage 4 — the placement that reproduces Table I's 29.6M params and
  ~7.1 GFLOPs.

Measured counts are in the README (``hrgcnet profile --table``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..layers.blocks import Bottleneck
from ..layers.lightweight import LightweightBottleneck
from .hrnet import PoseHighResolutionNet


@dataclass(frozen=True)
class GCPreset:
    """A GC placement.

    Attributes:
        name: preset name.
        description: one line for listings and docs.
        lightweight_stage1: use :class:`LightweightBottleneck` (depthwise-separable 3x3) in stage 1.
        stage1_gc_ratio: GC ratio in the stage-1 blocks (None: none).
        gc_ratio: GC ratio in the BasicBlocks of stages 2-4 selected by ``gc_stages``/``gc_branches``.
        gc_stages: stages (2, 3, 4) with GC blocks.
        gc_branches: branch indices with GC blocks (None: every branch).
    """

    name: str
    description: str
    lightweight_stage1: bool
    stage1_gc_ratio: float | None
    gc_ratio: float | None
    gc_stages: tuple[int, ...]
    gc_branches: tuple[int, ...] | None

    def stage_gc_ratios(self) -> dict[int, list[float | None]]:
        """Per-stage, per-branch GC ratios for :class:`PoseHighResolutionNet`."""
        return {
            s: [self.gc_ratio if (self.gc_branches is None or b in self.gc_branches) else None for b in range(s)]
            for s in self.gc_stages
        }


PRESETS: dict[str, GCPreset] = {
    "text": GCPreset(
        name="text",
        description="paper's text: lightweight GC bottlenecks in stage 1 + GC (r=1/4) on the high-resolution branch of stages 2-4",
        lightweight_stage1=True, stage1_gc_ratio=1 / 4, gc_ratio=1 / 4, gc_stages=(2, 3, 4), gc_branches=(0,),
    ),
    "table1": GCPreset(
        name="table1",
        description="reproduces Table I's 29.6M params / ~7.1 GFLOPs: standard stage 1 + GC (r=1/2) in every stage-4 BasicBlock",
        lightweight_stage1=False, stage1_gc_ratio=None, gc_ratio=1 / 2, gc_stages=(4,), gc_branches=None,
    ),
}


def build_hrgcnet(width: int = 32, preset: str | GCPreset = "text", num_keypoints: int = 17) -> PoseHighResolutionNet:
    """HRGCNet of width ``width`` with the GC placement of ``preset``."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown HRGCNet preset {preset!r}; choose from {sorted(PRESETS)}")
        preset = PRESETS[preset]
    return PoseHighResolutionNet(
        width=width, num_keypoints=num_keypoints,
        stage1_block=LightweightBottleneck if preset.lightweight_stage1 else Bottleneck,
        stage1_gc_ratio=preset.stage1_gc_ratio, gc_ratios=preset.stage_gc_ratios(),
    )


def hrnet_w32(**kwargs) -> PoseHighResolutionNet:
    """HRNet-W32 (Sun et al. 2019): 28,536,113 params."""
    return PoseHighResolutionNet(width=32, **kwargs)


def hrnet_w48(**kwargs) -> PoseHighResolutionNet:
    """HRNet-W48 (Sun et al. 2019): 63.6M params."""
    return PoseHighResolutionNet(width=48, **kwargs)


def hrgcnet_w32(preset: str = "text", **kwargs) -> PoseHighResolutionNet:
    """HRGCNet-W32 (Wang et al.), GC placement ``preset``."""
    return build_hrgcnet(32, preset, **kwargs)


def hrgcnet_w48(preset: str = "text", **kwargs) -> PoseHighResolutionNet:
    """HRGCNet-W48 (Wang et al.), GC placement ``preset``."""
    return build_hrgcnet(48, preset, **kwargs)
