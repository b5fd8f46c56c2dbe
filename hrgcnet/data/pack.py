"""Pack a COCO keypoint file into per-person crops: a small COCO file that trains like the original.

A machine that gets only a copy of the repository (the lent GPU machine takes 64 MiB in all, see
``docs/training/README.md``) cannot read ``../shared/data``. Training never looks beyond the region around a
person that the augmentation can reach, so each person that training can use becomes one image: that region,
at ``density`` times the resolution of an unaugmented training crop (never more than the stored image has),
JPEG-encoded. Every coordinate field of the annotation is mapped into the crop and every other field is kept,
so the :class:`hrgcnet.data.coco.DataSpec` rules (``lr_swap``, teacher face keypoints, ``stretched``) apply to
the packed file unchanged.

The region is the padded person box (:func:`hrgcnet.structures.bbox.box_xyxy_to_center_scale`) times the largest
scale augmentation ``1 + scale_factor``, enlarged to hold that box rotated by up to ``rotation_max``. Beyond it
the packed image is black, as the original is beyond its border; a half-body crop reaching outside it (rare)
sees black there too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import DatasetError
from ..structures.bbox import box_xyxy_to_center_scale
from ..structures import PIXEL_STD
from .augment import AugmentConfig
from .coco import DataSpec, load_coco_json, load_records
from .images import read_image_rgb, resize_by

#: Annotation fields holding flat ``x, y, third`` triplets in image pixels (COCO keypoints, the LSPET teacher's
#: keypoints and LSP's extra joints); a triplet whose third value is 0 and whose x, y are 0 stays as it is.
POINT_FIELDS: tuple[str, ...] = ("keypoints", "teacher_keypoints", "lsp_neck", "lsp_head_top")


@dataclass
class PackStats:
    """What :func:`pack_keypoint_file` wrote: persons (= images), bytes of JPEG, and the json's path."""

    persons: int
    jpeg_bytes: int
    ann: Path


def pack_region(box_xyxy: np.ndarray, input_hw: tuple[int, int], augment: AugmentConfig) -> np.ndarray:
    """The region ``(4,)`` xyxy (float pixels) that training crops of this box can reach."""
    center, scale = box_xyxy_to_center_scale(np.asarray(box_xyxy)[None], input_hw)
    w, h = scale[0] * PIXEL_STD * (1 + augment.scale_factor)
    theta = math.radians(augment.rotation_max if augment.rotation_prob > 0 else 0.0)
    cs, sn = abs(math.cos(theta)), abs(math.sin(theta))
    half = np.array([w * cs + h * sn, w * sn + h * cs]) / 2
    return np.concatenate([center[0] - half, center[0] + half])


def crop_region(image: np.ndarray, region: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut ``region`` (xyxy) out of ``image (H, W, 3)`` (black beyond its border) and shrink it by ``factor``.

    Returns ``(crop, origin (2,), zoom (2,))``: a point ``p`` of the image is at ``(p - origin) * zoom`` in the
    crop (pixel centres at integers, as in the training geometry).
    """
    x0, y0 = (int(math.floor(v)) for v in region[:2])
    x1, y1 = (int(math.ceil(v)) for v in region[2:])
    h, w = image.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    out, origin, zoom = resize_by(out, factor)
    return out, origin + [x0, y0], zoom


def map_annotation(ann: dict, origin: np.ndarray, zoom: np.ndarray, box_xyxy: np.ndarray, image_id: int) -> dict:
    """A copy of ``ann`` in crop coordinates (see :func:`crop_region`); ``bbox`` becomes the clipped box."""
    out = dict(ann, image_id=image_id, segmentation=[])
    for key in POINT_FIELDS:
        if ann.get(key) is None:
            continue
        pts = np.asarray(ann[key], np.float64).reshape(-1, 3)
        unset = (pts[:, 2] == 0) & (pts[:, 0] == 0) & (pts[:, 1] == 0)
        pts[:, :2] = np.where(unset[:, None], 0.0, (pts[:, :2] - origin) * zoom)
        out[key] = [round(float(v), 2) for v in pts.reshape(-1)]
    # xywh of the clipped box in the official +1 convention (clip_box_xywh gives back the same box).
    x1, y1 = (box_xyxy[:2] - origin) * zoom
    x2, y2 = (box_xyxy[2:] - origin) * zoom
    out["bbox"] = [round(float(v), 3) for v in (x1, y1, x2 - x1 + 1, y2 - y1 + 1)]
    if "area" in ann:
        out["area"] = round(float(ann["area"]) * float(zoom[0] * zoom[1]), 2)
    return out


def pack_keypoint_file(spec: DataSpec, out_dir: str | Path, input_hw: tuple[int, int], augment: AugmentConfig,
                       density: float = 1.0, quality: int = 90, progress: bool = False) -> PackStats:
    """Write ``out_dir/<json name>`` and ``out_dir/images/<annotation id>.jpg`` for the persons of ``spec.ann``.

    Packs every person :func:`hrgcnet.data.coco.load_records` can give under any spec option (persons flagged
    ``teacher_lr_swap`` and stretched images included). ``density``: packed pixels per pixel of an unaugmented
    ``input_hw`` crop. ``progress``: a progress bar over the persons.
    """
    if density <= 0:
        raise DatasetError(f"density must be > 0, got {density}")
    if not 1 <= quality <= 100:
        raise DatasetError(f"JPEG quality must be in 1..100, got {quality}")
    data = load_coco_json(spec.ann)
    if any("id" not in ann for ann in data["annotations"]):
        raise DatasetError(f"{spec.ann}: packing needs an 'id' on every annotation (it names the crops)")
    anns = {ann["id"]: ann for ann in data["annotations"]}
    images = {img["id"]: img for img in data["images"]}
    records = load_records(DataSpec(spec.ann, spec.images, lr_swap="keep"))
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    new_images, new_anns, jpeg_bytes = [], [], 0
    decoded: tuple[str, np.ndarray] | None = None
    # In the original order, so that a seed draws the same persons from the packed file as from the original.
    for rec in tqdm(records, desc=f"pack {spec.ann}", unit="person", dynamic_ncols=True, disable=not progress):
        if decoded is None or decoded[0] != rec.image_path:
            decoded = rec.image_path, read_image_rgb(rec.image_path)
        region = pack_region(rec.box, input_hw, augment)
        # Unaugmented crops map the padded box height scale[1] * PIXEL_STD onto input_hw[0] pixels.
        _, scale = box_xyxy_to_center_scale(rec.box[None], input_hw)
        factor = min(1.0, density * input_hw[0] / (scale[0, 1] * PIXEL_STD))
        crop, origin, zoom = crop_region(decoded[1], region, factor)
        name = f"{rec.ann_id}.jpg"
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise DatasetError(f"could not encode the crop of annotation {rec.ann_id}")
        (out_dir / "images" / name).write_bytes(buf.tobytes())
        jpeg_bytes += buf.size
        source = images[rec.image_id]
        new_images.append({**source, "id": rec.ann_id, "file_name": name, "width": crop.shape[1],
                           "height": crop.shape[0], "packed_from": {
                               "image_id": rec.image_id, "file_name": source["file_name"],
                               "origin": [round(float(v), 4) for v in origin],
                               "zoom": [round(float(v), 6) for v in zoom]}})
        new_anns.append(map_annotation(anns[rec.ann_id], origin, zoom, rec.box, rec.ann_id))
    ann_path = out_dir / Path(spec.ann).name
    info = dict(data.get("info") or {}, packed={"input_size": list(input_hw), "density": density,
                                                  "quality": quality, "from": str(spec.ann)})
    ann_path.write_text(json.dumps({**data, "info": info, "images": new_images, "annotations": new_anns},
                                   separators=(",", ":")))
    return PackStats(len(new_anns), jpeg_bytes, ann_path)
