"""HRNet and HRGCNet pose models, presets, weights and complexity counts."""

from .attention import capture_gc_attention, gc_blocks
from .hrgcnet import PRESETS, GCPreset, build_hrgcnet, hrgcnet_w32, hrgcnet_w48, hrnet_w32, hrnet_w48
from .hrnet import HighResolutionModule, PoseHighResolutionNet
from .registry import MODELS, create_model, get_spec, list_models

__all__ = [
    "MODELS", "PRESETS", "GCPreset", "HighResolutionModule", "PoseHighResolutionNet", "build_hrgcnet",
    "capture_gc_attention", "create_model", "gc_blocks", "get_spec", "hrgcnet_w32", "hrgcnet_w48",
    "hrnet_w32", "hrnet_w48", "list_models",
]
