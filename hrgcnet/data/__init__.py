"""Training data: COCO-format keypoint files (one or several, mixed by weight), per-person crops with
the official HRNet augmentation, Gaussian heatmap targets, and an epoch sampler for DDP and resume."""

from __future__ import annotations

from collections.abc import Sequence

from .augment import AugmentConfig, flip_keypoints, half_body_center_scale, sample_scale_rotation
from .coco import DataSpec, PersonRecord, load_coco_json, load_records
from .dataset import KeypointDataset, normalize_images
from .images import ImageCache, read_image_rgb
from .sampler import MixedSampler, split_by_weight

__all__ = [
    "AugmentConfig", "DataSpec", "ImageCache", "KeypointDataset", "MixedSampler", "PersonRecord",
    "build_mixed_dataset", "flip_keypoints", "half_body_center_scale", "load_coco_json", "load_records",
    "normalize_images", "read_image_rgb", "sample_scale_rotation", "split_by_weight",
]


def build_mixed_dataset(specs: Sequence[DataSpec], input_hw: tuple[int, int], sigma: float = 2.0,
                        unbiased: bool = False, augment: AugmentConfig | None = None,
                        cache: ImageCache | None = None) -> tuple[KeypointDataset, list[int], list[float]]:
    """One dataset over the persons of all ``specs`` (in order), with each file's size and weight.

    Pass the sizes and weights to :class:`MixedSampler` to mix the files by weight.
    """
    records, sizes = [], []
    for spec in specs:
        recs = load_records(spec)
        if not recs:
            from ..errors import DatasetError
            raise DatasetError(f"{spec.ann} has no usable persons (non-crowd, with labelled keypoints)")
        records.extend(recs)
        sizes.append(len(recs))
    dataset = KeypointDataset(records, input_hw, sigma=sigma, unbiased=unbiased, augment=augment, cache=cache)
    return dataset, sizes, [float(s.weight) for s in specs]
