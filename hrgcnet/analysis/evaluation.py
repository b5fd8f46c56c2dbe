"""Reading evaluation outputs and taking them apart per person, for the analysis app.

Two kinds of file are read:

* an evaluation summary (what ``hrgcnet eval --json`` writes): a JSON object holding the COCO summary keys
  (``AP``, ``AP50``, ``AP75``, ``APM``, ``APL``, ``AR``) either at the top level or under ``"summary"`` /
  ``"metrics"``, optionally ``"per_keypoint"`` (as :func:`hrgcnet.evaluation.coco.per_keypoint_oks` returns),
  ``"model"``, ``"input_size"`` and ``"results"`` (a COCO result list, inline or as a path);
* a COCO keypoint result list (``[{"image_id", "keypoints", "score", ...}]``), which needs the annotation
  file to be scored.

Values in 0..1 are kept as they are; the app shows percent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.coco import load_coco_json
from ..errors import DatasetError
from ..evaluation.coco import SUMMARY_KEYS, is_number, load_results
from ..structures import NUM_KEYPOINTS, OKS_SIGMAS


@dataclass
class EvalRecord:
    """One evaluation: ``name`` (file name or model), ``summary`` ``{AP.. AR: 0..1 | None}`` (None when the file
    holds only results), ``per_keypoint`` ``{name: {"n", "oks", "acc50", "acc75"}}`` or None, ``results`` (COCO
    keypoint results) or None, ``meta`` (the other top-level fields)."""

    name: str
    summary: dict[str, float | None] | None = None
    per_keypoint: dict[str, dict] | None = None
    results: list[dict] | None = None
    meta: dict = field(default_factory=dict)


def parse_eval_json(data: str | bytes, name: str, base_dir: Path | None = None) -> EvalRecord:
    """An :class:`EvalRecord` from the text of an evaluation file (see the module docstring).

    Raises:
        DatasetError: not JSON, neither a summary object nor a result list, an AP value that is not a number in
            0..1, a ``per_keypoint`` entry without numeric ``n``, ``oks``, ``acc50``, ``acc75``, or a malformed
            result.
    """
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{name} is not valid JSON: {exc}") from None
    if isinstance(obj, list):
        return EvalRecord(name=name, results=_check_results(obj, name), meta=meta_from_file_name(name))
    if not isinstance(obj, dict):
        raise DatasetError(f"{name}: expected a JSON object (evaluation summary) or a list (COCO results)")
    source = next((obj[k] for k in ("summary", "metrics", "stats") if isinstance(obj.get(k), dict)), obj)
    summary = {k: _ap_value(source.get(k), k, name) for k in SUMMARY_KEYS} if "AP" in source else None
    results = obj.get("results")
    if isinstance(results, str) and base_dir is not None:
        path = Path(results) if Path(results).is_absolute() else base_dir / results
        try:
            results = json.loads(path.read_bytes()) if path.is_file() else None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{name}: its results file {path.name} is not valid JSON: {exc}") from None
    if not isinstance(results, list):
        results = None
    if summary is None and results is None:
        raise DatasetError(f"{name}: no AP summary ({', '.join(SUMMARY_KEYS)}) and no results list found")
    per_kp = _check_per_keypoint(obj["per_keypoint"], name) if isinstance(obj.get("per_keypoint"), dict) else None
    meta = {k: v for k, v in obj.items()
            if k not in {"summary", "metrics", "stats", "per_keypoint", "results", *SUMMARY_KEYS}
            and isinstance(v, (str, int, float, bool))}
    for key, value in meta_from_file_name(name).items():
        meta.setdefault(key, value)
    label = str(obj.get("model") or name)
    return EvalRecord(name=label, summary=summary, per_keypoint=per_kp,
                      results=_check_results(results, name) if results is not None else None, meta=meta)


def meta_from_file_name(name: str) -> dict:
    """``model`` and ``input_size`` read from a file name such as ``hrgcnet-w32-table1_256x192.json`` (the
    ``hrgcnet eval --json`` output holds only the AP keys); missing parts are left out."""
    import re

    from ..models.registry import list_models

    stem = Path(name).stem.lower()
    meta = {}
    models = [m for m in list_models() if re.search(rf"(^|[^a-z0-9-]){re.escape(m)}($|[^a-z0-9-])", stem)]
    if models:
        meta["model"] = max(models, key=len)
    size = re.search(r"(?<!\d)(\d{2,4})x(\d{2,4})(?!\d)", stem)
    if size:
        meta["input_size"] = f"{int(size.group(1))}x{int(size.group(2))}"
    return meta


def load_eval_file(path: str | Path) -> EvalRecord:
    """:func:`parse_eval_json` of a file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"evaluation file not found: {path}")
    return parse_eval_json(path.read_bytes(), path.name, base_dir=path.parent)


def _is_number(v) -> bool:
    """A finite real number (:func:`hrgcnet.evaluation.coco.is_number`, not NaN or infinite)."""
    return is_number(v) and bool(np.isfinite(v))


def _ap_value(v, key: str, name: str) -> float | None:
    """A summary value: None, or a finite number in 0..1 (the app multiplies by 100)."""
    if v is None:
        return None
    if not _is_number(v) or not 0 <= v <= 1:
        raise DatasetError(f"{name}: {key} must be a number in 0..1 (or null), got {str(v)[:40]!r}")
    return float(v)


#: The fields of one ``per_keypoint`` entry (:func:`hrgcnet.evaluation.coco.per_keypoint_oks`); all but ``n`` in 0..1.
PER_KEYPOINT_FIELDS = ("n", "oks", "acc50", "acc75")


def _check_per_keypoint(per_kp: dict, name: str) -> dict[str, dict]:
    for kp, entry in per_kp.items():
        if not isinstance(entry, dict) or not all(_is_number(entry.get(f)) for f in PER_KEYPOINT_FIELDS):
            raise DatasetError(f"{name}: per_keypoint entry {str(kp)[:40]!r} needs numbers "
                               f"{', '.join(PER_KEYPOINT_FIELDS)}, got {str(entry)[:60]}")
        if entry["n"] < 0 or not all(0 <= entry[f] <= 1 for f in PER_KEYPOINT_FIELDS[1:]):
            raise DatasetError(f"{name}: per_keypoint entry {str(kp)[:40]!r} is out of range (n >= 0, "
                               f"oks/acc50/acc75 in 0..1): {str(entry)[:60]}")
    return per_kp


def _check_results(results: list, name: str) -> list[dict]:
    """``results`` checked by :func:`hrgcnet.evaluation.coco.load_results` (the CLI's check), errors prefixed with ``name``."""
    try:
        return load_results(results)
    except DatasetError as exc:
        raise DatasetError(f"{name}: {exc}") from None


def oks(pred: np.ndarray, gt: np.ndarray, area: float) -> float:
    """COCO object keypoint similarity of one prediction ``(K, 2|3)`` with one ground truth ``(K, 3)`` (x, y, v);
    only keypoints with ``v > 0`` count (pycocotools' formula with ``kappa = 2 * sigma``). NaN without any."""
    gt = np.asarray(gt, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
    pred = np.asarray(pred, dtype=np.float64).reshape(NUM_KEYPOINTS, -1)
    labelled = gt[:, 2] > 0
    if not labelled.any():
        return float("nan")
    d2 = ((pred[:, :2] - gt[:, :2]) ** 2).sum(axis=1)
    e = d2 / ((2 * OKS_SIGMAS) ** 2) / (area + np.spacing(1)) / 2
    return float(np.exp(-e[labelled]).mean())


def match_instances(results: list[dict], gt: dict) -> list[dict]:
    """Match predictions to ground-truth persons per image, greedily by descending score (as COCO does).

    Args:
        results: COCO keypoint results.
        gt: a COCO annotation dict (``{"images", "annotations"}``).

    Returns:
        One row per non-crowd ground-truth person with at least one labelled keypoint:
        ``{"image_id", "ann_id", "area", "num_keypoints", "oks" (0 if unmatched), "score" (None if unmatched),
        "matched", "pred_keypoints" ((K, 3) list | None), "gt_keypoints" ((K, 3) list)}``.
    """
    by_image_gt: dict = {}
    for a in gt.get("annotations", []):
        if a.get("iscrowd", 0) or a.get("num_keypoints", 0) <= 0:
            continue
        by_image_gt.setdefault(a["image_id"], []).append(a)
    by_image_dt: dict = {}
    for r in results:
        by_image_dt.setdefault(r["image_id"], []).append(r)
    rows = []
    for image_id, anns in by_image_gt.items():
        dets = sorted(by_image_dt.get(image_id, []), key=lambda r: -r["score"])[:20]
        taken: set[int] = set()
        match: dict[int, tuple[float, dict]] = {}
        for det in dets:
            best, best_j = -1.0, None
            for j, a in enumerate(anns):
                if j in taken:
                    continue
                s = oks(det["keypoints"], a["keypoints"], a["area"])
                if s > best:
                    best, best_j = s, j
            if best_j is not None and best > 0:
                taken.add(best_j)
                match[best_j] = (best, det)
        for j, a in enumerate(anns):
            s, det = match.get(j, (0.0, None))
            rows.append({"image_id": image_id, "ann_id": a["id"], "area": float(a["area"]),
                         "num_keypoints": int(a["num_keypoints"]), "oks": float(s),
                         "score": None if det is None else float(det["score"]), "matched": det is not None,
                         "pred_keypoints": None if det is None else
                         np.asarray(det["keypoints"], dtype=float).reshape(NUM_KEYPOINTS, 3).tolist(),
                         "gt_keypoints": np.asarray(a["keypoints"], dtype=float).reshape(NUM_KEYPOINTS, 3).tolist()})
    return rows


def keypoint_errors(rows: list[dict]) -> np.ndarray:
    """Per-keypoint pixel distances of matched persons: ``(M, K)`` with NaN where the keypoint is unlabelled."""
    out = []
    for r in rows:
        if not r["matched"]:
            continue
        g = np.asarray(r["gt_keypoints"])
        p = np.asarray(r["pred_keypoints"])
        d = np.linalg.norm(p[:, :2] - g[:, :2], axis=1)
        d[g[:, 2] <= 0] = np.nan
        out.append(d)
    return np.asarray(out).reshape(-1, NUM_KEYPOINTS)


def load_annotations(path: str | Path) -> dict:
    """A COCO keypoint annotation file as a dict (clear :class:`DatasetError` when missing or malformed)."""
    return load_coco_json(path)


def subset_with_persons(gt: dict, max_images: int | None) -> dict:
    """The first ``max_images`` images (file order) that have a non-crowd person box, with all their annotations
    (crowd regions included), as a new annotation dict; None keeps every image with persons."""
    with_persons = {a["image_id"] for a in gt["annotations"]
                    if not a.get("iscrowd", 0) and a.get("category_id", 1) == 1 and a["bbox"][2] > 0 and a["bbox"][3] > 0}
    images = [img for img in gt["images"] if img["id"] in with_persons]
    if max_images:
        images = images[:max_images]
    keep = {img["id"] for img in images}
    out = dict(gt)
    out["images"] = images
    out["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    out.setdefault("categories", [{"id": 1, "name": "person"}])
    return out


def restrict_to_results(gt: dict, results: list[dict]) -> dict:
    """The annotation dict ``gt`` cut down to the images that ``results`` has predictions for (with all their
    annotations): a result file of ``hrgcnet eval --max-images N`` covers only N images, and scoring it against
    every image would count the persons of the others as missed."""
    keep = {r["image_id"] for r in results}
    out = dict(gt)
    out["images"] = [img for img in gt["images"] if img["id"] in keep]
    out["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    out.setdefault("categories", [{"id": 1, "name": "person"}])
    return out


def default_val_split() -> tuple[Path, Path] | None:
    """``(val.json, images/)`` of ``../shared/data/coco`` beside the checkout, or None when absent."""
    root = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "coco").resolve()
    ann, images = root / "val.json", root / "images"
    return (ann, images) if ann.is_file() and images.is_dir() else None
