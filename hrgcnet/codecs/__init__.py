"""Keypoint codecs: keypoints <-> heatmaps, kept apart from the models."""

from .msra_heatmap import MSRAHeatmap, get_heatmap_maximum
from .refine import refine_keypoints_dark, refine_keypoints_quarter

__all__ = ["MSRAHeatmap", "get_heatmap_maximum", "refine_keypoints_dark", "refine_keypoints_quarter"]
