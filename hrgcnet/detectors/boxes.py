"""The ``boxes`` detector: person boxes given by the user or read from a COCO JSON file.

Two JSON layouts are read:

* COCO detection results (the file given to ``COCO.loadRes``, e.g. the official HRNet
  ``COCO_val2017_detections_AP_H_56_person.json``): a list of
  ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``; only category 1 (person) is kept.
* A COCO annotation file (``{"images", "annotations", ...}``): its non-crowd person boxes with box
  score 1 ("ground-truth boxes"), found by image id or by file name.

Boxes are COCO ``xywh`` in the file and ``xyxy`` everywhere else.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..jsonfile import read_json
from .base import Detections, valid_boxes


def boxes_xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x, y, w, h -> ``(N, 4)`` x1, y1, x2, y2."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def image_id_from_file_name(file_name: str | os.PathLike) -> int | None:
    """COCO file names are the zero-padded image id (``000000000139.jpg`` -> 139); else None."""
    match = re.fullmatch(r"(?:COCO_[A-Za-z0-9]+_)?(\d+)", Path(file_name).stem)  # also COCO_val2014_0000...
    return int(match.group(1)) if match else None


class BoxesDetector:
    """Boxes from the caller or from a COCO JSON file.

    Args:
        boxes: ``(N, 4)`` x1, y1, x2, y2 used for every image (when no ``path``).
        box_scores: ``(N,)``; default 1 for each box.
        path: COCO detection results or annotation JSON (see the module docstring).
        min_score: boxes with a lower score are dropped (official HRNet: 0.0 for the AP-56 boxes).
    """

    name = "boxes"

    def __init__(self, boxes: np.ndarray | None = None, box_scores: np.ndarray | None = None,
                 path: str | os.PathLike | None = None, min_score: float = 0.0) -> None:
        if (boxes is None) == (path is None):
            raise UsageError("the boxes detector needs either boxes=(N, 4) xyxy or path=COCO JSON file")
        self.notes: list[str] = []
        self.min_score = float(min_score)
        self.path = Path(path) if path is not None else None
        self._by_id: dict[int, list[tuple[list[float], float]]] = {}
        self._id_by_file: dict[str, int] = {}
        if path is not None:
            self._read(Path(path))
            self._static = None
        else:
            b = np.asarray(boxes, dtype=np.float64)
            if b.ndim != 2 or b.shape[1] != 4:
                raise UsageError(f"boxes must be (N, 4) x1, y1, x2, y2, got shape {b.shape}")
            s = np.ones(len(b)) if box_scores is None else np.asarray(box_scores, dtype=np.float64).reshape(-1)
            if s.shape[0] != b.shape[0]:
                raise UsageError(f"{b.shape[0]} boxes but {s.shape[0]} box scores")
            if not valid_boxes(b).all():
                raise UsageError("every box needs finite coordinates with x2 > x1 and y2 > y1")
            self._static = Detections(b, s)

    def _read(self, path: Path) -> None:
        data = read_json(path, "boxes file", error=UsageError)
        by_id: dict[int, list[tuple[list[float], float]]] = defaultdict(list)
        if isinstance(data, list):
            rows, kind = data, "detection results"
        elif isinstance(data, dict) and isinstance(data.get("annotations"), list):
            rows, kind = data["annotations"], "annotations"
            for img in data.get("images", []):
                if "file_name" in img and "id" in img:
                    self._id_by_file[Path(img["file_name"]).name] = int(img["id"])
        else:
            raise UsageError(f"{path}: expected a COCO detection-results list or a COCO annotation file")
        for i, row in enumerate(rows):
            try:
                if int(row.get("category_id", 1)) != 1 or row.get("iscrowd", 0):
                    continue
                x, y, w, h = (float(v) for v in row["bbox"])
                score = float(row.get("score", 1.0)) if kind == "detection results" else 1.0
                by_id[int(row["image_id"])].append(([x, y, w, h], score))
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(f"{path}: entry {i} is not a COCO {kind} entry with image_id and bbox "
                                 f"[x, y, w, h] ({exc!r})") from exc
        self._by_id = dict(by_id)

    def image_ids(self) -> list[int]:
        """Image ids that have at least one box in the file (empty for static boxes)."""
        return sorted(self._by_id)

    def resolve_image_id(self, image_id: int | None = None, file_name: str | os.PathLike | None = None) -> int | None:
        """The image id for a call: ``image_id``, else the file name's entry in the annotation file, else
        the id in a COCO-style file name."""
        if image_id is not None:
            return int(image_id)
        if file_name is not None:
            name = Path(file_name).name
            if name in self._id_by_file:
                return self._id_by_file[name]
            return image_id_from_file_name(name)
        return None

    def __call__(self, image: np.ndarray, *, image_id: int | None = None,
                 file_name: str | os.PathLike | None = None) -> Detections:
        """Boxes of ``image`` (used only for its size when boxes are static)."""
        if self._static is not None:
            det = self._static
        else:
            key = self.resolve_image_id(image_id, file_name)
            if key is None:
                raise UsageError(f"{self.path}: boxes are looked up by image id; pass image_id or a COCO-style "
                                 "file name such as 000000000139.jpg")
            rows = self._by_id.get(key, [])
            if not rows:
                return Detections.empty([f"no person boxes for image {key} in {self.path.name}"])
            det = Detections(boxes_xywh_to_xyxy([r[0] for r in rows]), [r[1] for r in rows])
        det = det.keep(valid_boxes(det.boxes) & (det.box_scores >= self.min_score))
        return det

    def __repr__(self) -> str:
        src = str(self.path) if self.path is not None else f"{len(self._static)} static boxes"
        return f"BoxesDetector({src}, min_score={self.min_score})"
