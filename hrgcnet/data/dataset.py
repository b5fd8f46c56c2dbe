"""Top-down keypoint dataset: one sample per person, cropped with the shared geometry and encoded with
the shared heatmap codec.

A sample is a dict:

* ``image``: ``(3, H, W)`` uint8 RGB crop (normalise a batch with :func:`normalize_images`; keeping
  uint8 until then makes worker -> main process transfers 4x smaller);
* ``heatmaps``: ``(K, h, w)`` float32 Gaussian targets, ``h, w = H / 4, W / 4``;
* ``target_weight``: ``(K,)`` float32 (0: unlabelled or off the crop);
* ``center``, ``scale`` ``(2,)`` float64 in the stored image's pixels, ``rotation`` degrees,
  ``flipped`` bool, ``image_id``, ``ann_id``.

Indexing with ``(index, seed)`` (what :class:`hrgcnet.data.sampler.MixedSampler` yields) makes the
augmentation a function of the seed alone, so runs are reproducible whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..codecs import MSRAHeatmap
from ..structures.bbox import box_xyxy_to_center_scale, get_affine_transform, transform_points, warp_crop
from ..structures import IMAGENET_MEAN, IMAGENET_STD
from .augment import AugmentConfig, flip_keypoints, half_body_center_scale, sample_scale_rotation
from .coco import PersonRecord
from .images import ImageCache


class KeypointDataset(Dataset):
    """Per-person crops and heatmap targets of ``records``.

    Args:
        records: the persons (see :func:`hrgcnet.data.coco.load_records`).
        input_hw: crop size (H, W).
        sigma: Gaussian sigma in heatmap pixels.
        unbiased: sub-pixel Gaussian centres (DARK encoding).
        augment: augmentation parameters; None for plain crops (validation, overfitting tests).
        cache: decoded images (default: decode on every access).
        seed: base seed for integer indexing (``dataset[i]`` uses seed ``seed + i``).
    """

    def __init__(self, records: Sequence[PersonRecord], input_hw: tuple[int, int], sigma: float = 2.0,
                 unbiased: bool = False, augment: AugmentConfig | None = None, cache: ImageCache | None = None,
                 seed: int = 0) -> None:
        self.records = list(records)
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.heatmap_hw = (self.input_hw[0] // 4, self.input_hw[1] // 4)
        self.codec = MSRAHeatmap(self.input_hw, self.heatmap_hw, sigma=sigma, unbiased=unbiased)
        self.augment = augment
        self.cache = cache if cache is not None else ImageCache()
        self.seed = seed

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (int(key), self.seed + int(key))
        rec = self.records[index]
        rng = np.random.default_rng(seed)
        image, origin, zoom = self.cache.get(rec.image_path)
        keypoints = (rec.keypoints[:, :2] - origin) * zoom
        weights = rec.weights.astype(np.float32)
        box = ((rec.box.reshape(2, 2) - origin) * zoom).reshape(1, 4)
        center, scale = box_xyxy_to_center_scale(box, self.input_hw)
        center, scale = center[0], scale[0]
        rotation, flipped = 0.0, False
        cfg = self.augment
        if cfg is not None:
            if (weights > 0).sum() > cfg.half_body_min_keypoints and rng.random() < cfg.half_body_prob:
                half = half_body_center_scale(keypoints, weights, self.input_hw[1] / self.input_hw[0],
                                              cfg.half_body_padding, rng)
                if half is not None:
                    center, scale = half
            s, rotation = sample_scale_rotation(cfg, rng)
            scale = scale * s
            if rng.random() <= cfg.flip_prob:
                flipped = True
                image = image[:, ::-1]
                keypoints, weights = flip_keypoints(keypoints, weights, image.shape[1])
                center = np.array([image.shape[1] - center[0] - 1, center[1]])
        crop = warp_crop(np.ascontiguousarray(image), center, scale, self.input_hw, rotation)
        matrix = get_affine_transform(center, scale, rotation, (self.input_hw[1], self.input_hw[0]))
        heatmaps, target_weight = self.codec.encode(transform_points(keypoints, matrix), weights)
        target_weight = target_weight * weights
        return {
            "image": torch.from_numpy(crop).permute(2, 0, 1),
            "heatmaps": torch.from_numpy(heatmaps),
            "target_weight": torch.from_numpy(target_weight.astype(np.float32)),
            # Back in the stored image's pixels (undo the cache's downscale).
            "center": torch.from_numpy(np.asarray(center, np.float64) / zoom + origin),
            "scale": torch.from_numpy(np.asarray(scale, np.float64) / zoom),
            "rotation": rotation,
            "flipped": flipped,
            "image_id": rec.image_id,
            "ann_id": rec.ann_id,
        }


def normalize_images(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """ImageNet-normalise a uint8 RGB batch ``(N, 3, H, W)`` into ``dtype`` (keeps the memory format)."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device, dtype=dtype).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, device=images.device, dtype=dtype).view(1, 3, 1, 1) * 255.0
    return (images.to(dtype) - mean) / std
