"""Read COCO-format person-keypoint files into per-instance records (one per person box).

Note:
    K = 17 COCO keypoints. A record's ``keypoints (K, 3)`` are x, y, v in pixels of the stored image
    (v: 0 unlabelled, 1 labelled but hidden, 2 visible); ``weights (K,)`` scale each keypoint's target
    weight (0 for unlabelled keypoints; < 1 for pseudo-labels).

Which persons become training samples follows the official HRNet ``COCODataset``: non-crowd persons
with at least one labelled keypoint and a box of positive size after clipping it to the image.

LSP-Extended (``/work/shared/data/lspet``) needs three decisions, made by :class:`DataSpec`:

* **Face joints** (nose, eyes, ears) do not exist in LSP, so they are unlabelled (weight 0) and
  training on LSPET supervises only the 12 body keypoints. Optionally (``teacher_face_min_score``) the
  YOLOv8n-pose teacher's face keypoints become pseudo-labels, but only where the teacher is credible:
  its body keypoints must agree with the human labels (``teacher_oks >= teacher_min_oks``), the
  person is not flagged ``teacher_lr_swap``, each face keypoint's teacher score is above the
  threshold, and the pseudo-label gets a reduced weight (``teacher_face_weight``). A small
  student trained on COCO's face labels is the target; the teacher's face keypoints on ~150 px tall
  persons are noisy, hence the gate and the lower weight rather than weight 1.
* **``teacher_lr_swap`` persons** (270 of 6,023; many are mirrored human labels, some are inverted
  poses where the teacher is wrong): ``lr_swap="drop"`` (default) removes them -- 4.5 % of the data is
  a small price for not training on labels that are likely mirrored; ``"swap"`` exchanges their
  left/right labels (trusts the teacher), ``"keep"`` uses them as they are.
* **Stretched images** (987 of the 1,067 COCO train images are whole frames stretched to squares)
  are kept: they are most of the COCO data and a fixed-aspect crop pipeline works on them unchanged;
  ``skip_stretched=True`` drops them and ``stretched_weight`` down-weights their keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..jsonfile import read_json
from ..structures import FLIP_INDICES, NUM_KEYPOINTS

#: Face keypoints (nose, eyes, ears): absent in LSP-Extended.
FACE_IDS: tuple[int, ...] = (0, 1, 2, 3, 4)


@dataclass
class DataSpec:
    """One COCO-format keypoint file and how to use it.

    Args:
        ann: path of the annotation json.
        images: image folder; default ``images/`` next to the json.
        weight: share of this file in a mixed epoch (relative to the other files' weights).
        lr_swap: ``"drop"`` | ``"swap"`` | ``"keep"`` persons flagged ``teacher_lr_swap``.
        teacher_face_min_score: use teacher face keypoints with at least this score as pseudo-labels
            (None: never). Only for files with ``teacher_keypoints`` (LSPET).
        teacher_face_weight: target weight of those pseudo-labels.
        teacher_min_oks: only persons whose teacher body keypoints match the labels with this OKS.
        skip_stretched: drop images flagged ``stretched``.
        stretched_weight: multiply the keypoint weights of persons in stretched images.
    """

    ann: str
    images: str | None = None
    weight: float = 1.0
    lr_swap: str = "drop"
    teacher_face_min_score: float | None = None
    teacher_face_weight: float = 0.5
    teacher_min_oks: float = 0.5
    skip_stretched: bool = False
    stretched_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.lr_swap not in ("drop", "swap", "keep"):
            raise DatasetError(f"lr_swap must be 'drop', 'swap' or 'keep', got {self.lr_swap!r}")
        if self.weight < 0:
            raise DatasetError(f"dataset weight must be >= 0, got {self.weight}")

    @property
    def images_dir(self) -> Path:
        return Path(self.images) if self.images else Path(self.ann).parent / "images"


@dataclass
class PersonRecord:
    """One person instance: where its image is, its box and its keypoints.

    ``box`` is ``(4,)`` xyxy pixels; ``keypoints (K, 3)`` x, y, v; ``weights (K,)`` float32.
    """

    image_path: str
    image_id: int
    ann_id: int
    width: int
    height: int
    box: np.ndarray
    keypoints: np.ndarray
    weights: np.ndarray
    area: float = 0.0
    stretched: bool = False
    extra: dict = field(default_factory=dict)


def load_coco_json(path: str | Path) -> dict:
    """Read and sanity-check a COCO keypoint json; :class:`DatasetError` with the reason otherwise."""
    path = Path(path)
    data = read_json(path, "annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise DatasetError(f"annotation file {path} is not COCO format: it needs 'images' and 'annotations' lists")
    for img in data["images"]:
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise DatasetError(f"annotation file {path}: every image needs 'id' and 'file_name', got {str(img)[:120]}")
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or "bbox" not in ann:
            raise DatasetError(f"annotation file {path}: every annotation needs 'image_id' and 'bbox', "
                               f"got {str(ann)[:120]}")
        kpts = ann.get("keypoints")
        if kpts is None:
            continue
        if not isinstance(kpts, list):
            raise DatasetError(f"annotation file {path}: annotation {i} (id {ann.get('id')}): keypoints must be a "
                               f"list of {NUM_KEYPOINTS * 3} numbers, got {str(kpts)[:60]!r}")
        if len(kpts) != NUM_KEYPOINTS * 3:
            raise DatasetError(f"annotation file {path}: annotation {i} (id {ann.get('id')}) has {len(kpts)} keypoint "
                               f"values, expected {NUM_KEYPOINTS * 3} (COCO-17)")
    return data


def clip_box_xywh(bbox, width: int, height: int) -> np.ndarray | None:
    """Official ``_load_coco_keypoint_annotation_kernal`` box cleaning: xywh -> clipped xyxy ``(4,)`` or None."""
    x, y, w, h = (float(v) for v in bbox)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
    if w * h <= 0 or x2 < x1 or y2 < y1:
        return None
    return np.array([x1, y1, x2, y2], dtype=np.float64)


def load_records(spec: DataSpec, check_images: bool = True) -> list[PersonRecord]:
    """Per-person training records of one keypoint file (see the module docstring for the rules)."""
    data = load_coco_json(spec.ann)
    images = {img["id"]: img for img in data["images"]}
    root = spec.images_dir
    if check_images and not root.is_dir():
        raise DatasetError(f"image folder not found: {root} (for {spec.ann})")
    records: list[PersonRecord] = []
    missing: list[str] = []
    for ann in data["annotations"]:
        img = images.get(ann["image_id"])
        if img is None:
            raise DatasetError(f"{spec.ann}: annotation {ann.get('id')} refers to unknown image {ann['image_id']}")
        if ann.get("iscrowd", 0) or ann.get("category_id", 1) != 1 or not ann.get("keypoints"):
            continue
        stretched = bool(img.get("stretched", False))
        if stretched and spec.skip_stretched:
            continue
        keypoints = np.asarray(ann["keypoints"], dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
        if keypoints[:, 2].max() <= 0:
            continue
        if ann.get("teacher_lr_swap", False):
            if spec.lr_swap == "drop":
                continue
            if spec.lr_swap == "swap":
                keypoints = keypoints[list(FLIP_INDICES)]
        width, height = int(img.get("width", 0)), int(img.get("height", 0))
        box = clip_box_xywh(ann["bbox"], width, height) if width and height else \
            np.array([ann["bbox"][0], ann["bbox"][1], ann["bbox"][0] + ann["bbox"][2],
                      ann["bbox"][1] + ann["bbox"][3]], dtype=np.float64)
        if box is None:
            continue
        weights = (keypoints[:, 2] > 0).astype(np.float32)
        _add_teacher_face(spec, ann, keypoints, weights)
        if stretched:
            weights *= spec.stretched_weight
        path = root / img["file_name"]
        if check_images and not path.is_file():
            missing.append(str(path))
            continue
        records.append(PersonRecord(str(path), int(ann["image_id"]), int(ann.get("id", len(records))), width, height,
                                    box, keypoints, weights, float(ann.get("area", 0.0)), stretched))
    if missing:
        raise DatasetError(f"{len(missing)} image(s) of {spec.ann} are missing, e.g. {missing[0]}")
    return records


def _add_teacher_face(spec: DataSpec, ann: dict, keypoints: np.ndarray, weights: np.ndarray) -> None:
    """Fill unlabelled face keypoints from credible teacher predictions (in place)."""
    teacher = ann.get("teacher_keypoints")
    if spec.teacher_face_min_score is None or teacher is None or ann.get("teacher_lr_swap", False):
        return
    if float(ann.get("teacher_oks", 0.0)) < spec.teacher_min_oks:
        return
    teacher = np.asarray(teacher, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
    for k in FACE_IDS:
        if keypoints[k, 2] == 0 and teacher[k, 2] >= spec.teacher_face_min_score:
            keypoints[k] = (teacher[k, 0], teacher[k, 1], 1.0)
            weights[k] = spec.teacher_face_weight
