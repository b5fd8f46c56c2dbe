"""Person-box evaluation of a detector on a COCO annotation file (``hrgcnet eval-boxes``).

Four numbers per detector:

* **AP / AP50 / AP75 / APS / APM / APL**: pycocotools' ``COCOeval`` with ``iouType="bbox"`` on the person
  category (id 1). The detector should keep low-scoring boxes (``min_score`` 0.05) so that the whole
  precision-recall curve is scored, as COCO does.
* **recall at a box-score threshold t**, by COCO area (small < 32², medium < 96², large; the annotation's
  ``area``, as COCOeval uses): the share of non-crowd persons matched by a box of score >= t, matched greedily
  by decreasing score at IoU >= 0.5, each person at most once.
* **precision at t**: matched boxes / boxes of score >= t; a box that matches no person but lies on a crowd
  region (intersection over the box's area >= 0.5) is not counted.
* **ms/image**: wall time of the detector call alone (no image decoding), mean and median over the images after
  one warm-up call on the first image.

Returned as a plain dict (``to_json`` friendly); :func:`format_table` prints it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .base import box_ioa, box_iou

#: COCO's area ranges (pixels²).
AREAS = (("small", 0.0, 32.0 ** 2), ("medium", 32.0 ** 2, 96.0 ** 2), ("large", 96.0 ** 2, float("inf")))
MATCH_IOU = 0.5
PERSON_CATEGORY = 1


def match_boxes(gt: np.ndarray, det: np.ndarray, det_scores: np.ndarray, iou: float = MATCH_IOU
                ) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching by decreasing score: ``(gt_matched (N,) bool, det_matched (M,) bool)``; a box takes the
    unmatched person of highest IoU >= ``iou``."""
    gt_matched = np.zeros(len(gt), bool)
    det_matched = np.zeros(len(det), bool)
    if len(gt) == 0 or len(det) == 0:
        return gt_matched, det_matched
    ious = box_iou(det, gt)
    for d in np.argsort(-np.asarray(det_scores), kind="stable"):
        candidates = np.where(gt_matched, -1.0, ious[d])
        g = int(np.argmax(candidates))
        if candidates[g] >= iou:
            gt_matched[g] = det_matched[d] = True
    return gt_matched, det_matched


def threshold_stats(gt_by_image: dict, dets_by_image: dict, threshold: float) -> dict:
    """Precision and recall by area of the boxes scoring >= ``threshold`` (see the module docstring).

    Args:
        gt_by_image: ``{image_id: (boxes (N, 4) xyxy, areas (N,), crowd (N,) bool)}``.
        dets_by_image: ``{image_id: (boxes (M, 4) xyxy, scores (M,))}``.
    """
    found = {name: 0 for name, *_ in AREAS}
    total = {name: 0 for name, *_ in AREAS}
    kept = matched = 0
    for image_id, (gt_boxes, areas, crowd) in gt_by_image.items():
        boxes, scores = dets_by_image.get(image_id, (np.zeros((0, 4)), np.zeros(0)))
        keep = scores >= threshold
        boxes, scores = boxes[keep], scores[keep]
        people = ~crowd
        gt_hit, det_hit = match_boxes(gt_boxes[people], boxes, scores)
        on_crowd = np.zeros(len(boxes), bool)
        if crowd.any() and len(boxes):
            on_crowd = box_ioa(boxes, gt_boxes[crowd]).max(axis=1) >= MATCH_IOU
        kept += int((det_hit | ~on_crowd).sum())
        matched += int(det_hit.sum())
        for name, low, high in AREAS:
            in_range = (areas[people] >= low) & (areas[people] < high)
            total[name] += int(in_range.sum())
            found[name] += int((gt_hit & in_range).sum())
    persons = sum(total.values())
    return {"threshold": float(threshold), "boxes": kept, "matched": matched,
            "precision": matched / kept if kept else None,
            "recall": sum(found.values()) / persons if persons else None,
            **{f"recall_{name}": found[name] / total[name] if total[name] else None for name, *_ in AREAS},
            **{f"persons_{name}": total[name] for name, *_ in AREAS}}


def coco_box_ap(coco_gt, results: list[dict]) -> dict[str, float | None]:
    """Person-box AP, AP50, AP75, APS, APM, APL of COCO detection ``results`` (pycocotools, ``iouType="bbox"``)."""
    from ..evaluation.coco import _run_cocoeval

    keys = ("AP", "AP50", "AP75", "APS", "APM", "APL")
    if not results:
        return dict.fromkeys(keys, 0.0)
    stats = _run_cocoeval(coco_gt, results, iou_type="bbox", cat_ids=[PERSON_CATEGORY]).stats
    return {k: (None if stats[i] < 0 else float(stats[i])) for i, k in enumerate(keys)}


def gt_person_boxes(coco_gt) -> dict:
    """``{image_id: (boxes (N, 4) xyxy, areas (N,), crowd (N,) bool)}`` of every image's person annotations."""
    out = {}
    for img in coco_gt.dataset["images"]:
        anns = [a for a in coco_gt.imgToAnns.get(img["id"], []) if a.get("category_id", 1) == PERSON_CATEGORY]
        try:
            xywh = np.array([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
            areas = np.array([a.get("area", a["bbox"][2] * a["bbox"][3]) for a in anns], np.float64)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DatasetError(f"image {img['id']}: person annotations need a bbox [x, y, w, h]: {exc}") from exc
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        out[img["id"]] = (boxes, areas, np.array([bool(a.get("iscrowd", 0)) for a in anns], bool))
    return out


def evaluate_boxes(detector: Callable, ann, images_dir: str | Path, thresholds: Sequence[float] = (0.5,),
                   progress: bool = False) -> dict:
    """Run ``detector`` on every image of ``ann`` and score its person boxes.

    Args:
        detector: a :class:`hrgcnet.detectors.Detector` (keep its ``min_score`` low, e.g. 0.05, for AP).
        ann: COCO annotation file (path) or a ``pycocotools`` COCO object.
        images_dir: folder of the images (``file_name`` is relative to it).
        thresholds: box-score thresholds at which precision and recall are reported.

    Returns:
        ``{"detector", "images", "persons", "AP", "AP50", ..., "at": [threshold_stats, ...], "ms_mean",
        "ms_median", "notes"}``.

    Raises:
        DatasetError: missing image folder or images, malformed annotations.
    """
    from ..evaluation.coco import _progress, load_coco_gt
    from ..io import load_image
    from . import detector_label

    coco_gt = load_coco_gt(ann)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DatasetError(f"image folder not found: {images_dir}")
    images = coco_gt.dataset["images"]
    missing = [img["file_name"] for img in images if not (images_dir / img["file_name"]).is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} image(s) of the annotation file are missing in {images_dir}, "
                           f"e.g. {missing[0]}")
    gt = gt_person_boxes(coco_gt)
    dets: dict = {}
    results: list[dict] = []
    times: list[float] = []
    notes: list[str] = list(getattr(detector, "notes", []))
    for n, img in enumerate(_progress(images, progress, "eval-boxes")):
        image = load_image(images_dir / img["file_name"])
        if n == 0:
            detector(image, image_id=img["id"], file_name=img["file_name"])  # warm-up (lazy init, caches)
        t0 = time.perf_counter()
        det = detector(image, image_id=img["id"], file_name=img["file_name"])
        times.append((time.perf_counter() - t0) * 1000)
        boxes, scores = det.boxes.astype(np.float64), det.box_scores.astype(np.float64)
        dets[img["id"]] = (boxes, scores)
        for note in det.notes:
            if note not in notes:
                notes.append(note)
        for b, s in zip(boxes, scores):
            results.append({"image_id": img["id"], "category_id": PERSON_CATEGORY,
                            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                            "score": float(s)})
    persons = sum(int((~crowd).sum()) for _, _, crowd in gt.values())
    return {"detector": detector_label(detector), "images": len(images), "persons": persons,
            **coco_box_ap(coco_gt, results),
            "at": [threshold_stats(gt, dets, t) for t in thresholds],
            "ms_mean": float(np.mean(times)) if times else None,
            "ms_median": float(np.median(times)) if times else None,
            "notes": notes}


def format_table(rows: Sequence[dict]) -> str:
    """One line per (detector, threshold): AP, AP50, precision and recall by area at the threshold, ms/image."""

    def f(v) -> str:
        return "  n/a" if v is None else f"{v:.3f}"

    width = max([len("detector")] + [len(row["detector"]) for row in rows])
    lines = [f"{'detector':<{width}} {'AP':>5} {'AP50':>5} {'thr':>5} {'prec':>5} {'rec':>5} {'rec S':>5} {'rec M':>5} "
             f"{'rec L':>5} {'ms/img':>7}"]
    for row in rows:
        for at in row["at"]:
            lines.append(f"{row['detector']:<{width}} {f(row['AP'])} {f(row['AP50'])} {at['threshold']:>5.2f} "
                         f"{f(at['precision'])} {f(at['recall'])} {f(at['recall_small'])} {f(at['recall_medium'])} "
                         f"{f(at['recall_large'])} {row['ms_mean']:>7.1f}")
    first = rows[0] if rows else None
    if first and first["at"]:
        at = first["at"][0]
        lines.append(f"\n{first['images']} images, {first['persons']} non-crowd persons (small {at['persons_small']}, "
                     f"medium {at['persons_medium']}, large {at['persons_large']}); recall and precision at IoU >= "
                     f"{MATCH_IOU}; ms/img: mean detector time per image")
    return "\n".join(lines)
