"""COCO keypoint evaluation: score result lists with pycocotools, and predict a whole annotation file
with the same :class:`hrgcnet.pipeline.PoseEstimator` code path as inference.

Results are COCO keypoint results: ``{"image_id", "category_id": 1, "keypoints": [x, y, score] * 17,
"score"}`` (what ``PoseResult.to_coco_json`` returns).

Summary keys (pycocotools ``COCOeval(iouType="keypoints")``, OKS with the standard sigmas, at most 20
persons per image): ``AP`` (OKS 0.50:0.95), ``AP50``, ``AP75``, ``APM`` (medium, 32^2 < area <= 96^2),
``APL`` (large), ``AR`` (0.50:0.95). Values lie in 0..1; an area range without ground-truth persons has
no AP and is reported as None.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import DatasetError, UsageError
from ..jsonfile import read_json
from ..structures import KEYPOINT_NAMES, NUM_KEYPOINTS

SUMMARY_KEYS: tuple[str, ...] = ("AP", "AP50", "AP75", "APM", "APL", "AR")
#: Index of each summary key in ``COCOeval.stats`` (keypoints).
_STATS_INDEX = {"AP": 0, "AP50": 1, "AP75": 2, "APM": 3, "APL": 4, "AR": 5}

Results = Sequence[dict]


# ---------------------------------------------------------------------------------------------- scoring

def load_coco_gt(ann: str | Path | object):
    """A ``pycocotools.coco.COCO`` for ``ann`` (a path, or a COCO object passed through), quietly."""
    from pycocotools.coco import COCO

    if isinstance(ann, COCO):
        return ann
    from ..data.coco import load_coco_json

    data = load_coco_json(ann)  # clear DatasetError for missing / malformed files
    data.setdefault("categories", [{"id": 1, "name": "person"}])
    return coco_from_dict(data)


def coco_from_dict(data: dict):
    """A ``pycocotools.coco.COCO`` built from an annotation dict, quietly."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def load_results(results: str | Path | Results) -> list[dict]:
    """A checked copy of a result list (or of a results json file).

    Every entry needs ``image_id`` (a number or string), ``keypoints`` (51 finite numbers) and ``score`` (a finite
    number); anything else is a :class:`DatasetError` naming the entry's index.
    """
    if isinstance(results, (str, Path)):
        results = read_json(results, "results file")
    if not isinstance(results, list):
        raise DatasetError("COCO keypoint results must be a list of {image_id, category_id, keypoints, score}")
    out = []
    for i, r in enumerate(results):
        if not isinstance(r, dict) or not {"image_id", "keypoints", "score"} <= set(r):
            raise DatasetError(f"result {i} needs image_id, keypoints and score, got {str(r)[:120]}")
        image_id = _image_id(r["image_id"], f"result {i}")
        category_id = r.get("category_id", 1)
        if not is_number(category_id):
            raise DatasetError(f"result {i}: category_id must be a number, got {str(category_id)[:40]!r}")
        kps = r["keypoints"]
        if not isinstance(kps, (list, tuple, np.ndarray)):
            raise DatasetError(f"result {i}: keypoints must be a list of {NUM_KEYPOINTS * 3} numbers, "
                               f"got {str(kps)[:60]!r}")
        if len(kps) != NUM_KEYPOINTS * 3:
            raise DatasetError(f"result {i} has {len(kps)} keypoint values, expected {NUM_KEYPOINTS * 3}")
        if not all(map(is_number, kps)):
            bad = next(v for v in kps if not is_number(v))
            raise DatasetError(f"result {i}: keypoint value must be a number, got {str(bad)[:40]!r}")
        keypoints = [float(v) for v in kps]
        if not all(map(math.isfinite, keypoints)):
            raise DatasetError(f"result {i}: keypoint values must be finite (no NaN / infinity)")
        out.append({"image_id": image_id, "category_id": category_id, "keypoints": keypoints,
                    "score": _finite(r["score"], f"result {i}: score")})
    return out


def is_number(value) -> bool:
    """A real number (Python or numpy), not a bool or a string."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _image_id(value, what: str):
    """A COCO image id: a number or a string (hashable, comparable with the annotation file's ids)."""
    if isinstance(value, str):
        return value
    if not is_number(value):
        raise DatasetError(f"{what}: image_id must be a number or a string, got {str(value)[:40]!r}")
    return int(value) if isinstance(value, (np.integer, np.floating)) and float(value).is_integer() else value


def _run_cocoeval(coco_gt, results: list[dict], iou_type: str = "keypoints", cat_ids: list[int] | None = None):
    """pycocotools' ``COCOeval`` of ``results`` (keypoints, or ``iou_type="bbox"`` for detections, on ``cat_ids``),
    evaluated, accumulated and summarised quietly."""
    from pycocotools.cocoeval import COCOeval

    unknown = {r["image_id"] for r in results} - set(coco_gt.getImgIds())
    if unknown:
        raise DatasetError(f"{len(unknown)} result image id(s) are not in the annotation file, "
                           f"e.g. {sorted(unknown, key=repr)[0]!r}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(copy.deepcopy(results))
            ev = COCOeval(coco_gt, coco_dt, iouType=iou_type)
            if cat_ids is not None:
                ev.params.catIds = cat_ids
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
    except (KeyError, TypeError, ValueError, IndexError) as exc:  # malformed annotations or results
        what = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        needs = "keypoint annotations need image_id, bbox, area, iscrowd, keypoints and num_keypoints" \
            if iou_type == "keypoints" else "box annotations need image_id, bbox, area and iscrowd"
        raise DatasetError(f"pycocotools cannot score these annotations/results ({what}); {needs}") from exc
    return ev


def evaluate_coco(results: str | Path | Results, ann: str | Path | object) -> dict[str, float | None]:
    """COCO keypoint AP of ``results`` against the annotations ``ann``.

    Args:
        results: a result list or the path of a results json.
        ann: annotation json path (or a loaded ``pycocotools`` COCO object).

    Returns:
        ``{"AP", "AP50", "AP75", "APM", "APL", "AR"}`` in 0..1 (None for an area range without
        ground truth). An empty result list scores 0.
    """
    coco_gt = load_coco_gt(ann)
    results = load_results(results)
    if not results:
        return {k: 0.0 for k in SUMMARY_KEYS}
    stats = _run_cocoeval(coco_gt, results).stats
    return {k: (None if stats[i] < 0 else float(stats[i])) for k, i in _STATS_INDEX.items()}


def evaluate_subset(results: str | Path | Results, ann: str | Path | object) -> dict[str, float | None]:
    """:func:`evaluate_coco` of the results on ``ann``'s images only (``ann`` a subset of the images scored,
    e.g. val.json's within dev.json's predictions)."""
    coco_gt = load_coco_gt(ann)
    images = set(coco_gt.getImgIds())
    return evaluate_coco([r for r in load_results(results) if r["image_id"] in images], coco_gt)


def per_keypoint_oks(results: str | Path | Results, ann: str | Path | object) -> dict[str, dict[str, float]]:
    """How well each keypoint is localised on the persons that the standard evaluation found.

    Detections are matched to ground truth exactly as COCO does at OKS 0.5 (all areas, at most 20 per
    image); for every matched pair and every keypoint ``k`` labelled in the ground truth, the single-keypoint
    similarity ``OKS_k = exp(-d_k^2 / (2 * area * kappa_k^2))`` is computed (``kappa = 2 * sigma``, the
    pycocotools form). Returns ``{keypoint name: {"n": pairs, "oks": mean OKS_k, "acc50": share with
    OKS_k >= 0.5, "acc75": share >= 0.75}}`` (values 0 when ``n == 0``).
    """
    from ..structures import OKS_SIGMAS

    coco_gt = load_coco_gt(ann)
    results = load_results(results)
    per_k: list[list[float]] = [[] for _ in range(NUM_KEYPOINTS)]
    if results:
        ev = _run_cocoeval(coco_gt, results)
        variances = (OKS_SIGMAS * 2) ** 2
        for e in ev.evalImgs:
            if e is None or list(e["aRng"]) != list(ev.params.areaRng[0]):
                continue
            for dt_id, gt_id in zip(e["dtIds"], e["dtMatches"][0]):
                if gt_id <= 0:
                    continue
                gt = coco_gt.anns[int(gt_id)]
                if gt.get("iscrowd", 0):
                    continue
                g = np.asarray(gt["keypoints"], dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
                d = np.asarray(ev.cocoDt.anns[dt_id]["keypoints"], dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
                sq = ((d[:, :2] - g[:, :2]) ** 2).sum(axis=1)
                oks = np.exp(-sq / variances / (gt["area"] + np.spacing(1)) / 2)
                for k in np.nonzero(g[:, 2] > 0)[0]:
                    per_k[k].append(float(oks[k]))
    out = {}
    for name, values in zip(KEYPOINT_NAMES, per_k):
        v = np.asarray(values)
        out[name] = {"n": int(v.size), "oks": float(v.mean()) if v.size else 0.0,
                     "acc50": float((v >= 0.5).mean()) if v.size else 0.0,
                     "acc75": float((v >= 0.75).mean()) if v.size else 0.0}
    return out


def paired_bootstrap(results_a: str | Path | Results, results_b: str | Path | Results, ann: str | Path | object,
                     num_samples: int = 1000, seed: int = 0) -> dict:
    """How sure is "results A score a higher AP than results B" on the images of ``ann``?

    A paired bootstrap over images: ``num_samples`` times, the images of ``ann`` are drawn with replacement
    (numpy generator ``seed``) and both result lists are scored on that same draw, an image drawn twice
    counting twice. pycocotools' per-image matching is computed once per result list and re-accumulated
    for each draw, which equals scoring a file that holds the drawn images (``tests/test_evaluate.py``).

    Returns:
        ``{"AP_a", "AP_b", "delta": AP_a - AP_b, "ci95": [low, high]`` (2.5th and 97.5th percentiles of
        the drawn deltas), ``"share_a_not_better"`` (share of draws with delta <= 0), ``"num_samples",
        "num_images"}``.
    """
    if num_samples < 1:
        raise UsageError(f"the number of bootstrap samples must be >= 1, got {num_samples}")
    coco_gt = load_coco_gt(ann)
    evals = []
    for results in (results_a, results_b):
        results = load_results(results)
        if not results:
            raise DatasetError("paired_bootstrap needs two non-empty result lists")
        evals.append(_run_cocoeval(coco_gt, results))
    num_images = len(evals[0].params.imgIds)
    rng = np.random.default_rng(seed)
    deltas = np.empty(num_samples)
    for s in range(num_samples):
        draw = rng.integers(0, num_images, num_images)
        deltas[s] = _ap_of_draw(evals[0], draw) - _ap_of_draw(evals[1], draw)
    ap_a, ap_b = (float(ev.stats[0]) for ev in evals)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {"AP_a": ap_a, "AP_b": ap_b, "delta": ap_a - ap_b, "ci95": [float(low), float(high)],
            "share_a_not_better": float((deltas <= 0).mean()), "num_samples": num_samples,
            "num_images": num_images}


def _ap_of_draw(ev, draw: np.ndarray) -> float:
    """AP (OKS 0.50:0.95, all areas) of an evaluated ``COCOeval`` over the images ``ev.params.imgIds[draw]``."""
    pe = ev._paramsEval
    num_images, num_areas = len(pe.imgIds), len(pe.areaRng)
    drawn = copy.copy(ev)
    # evalImgs is laid out [category][area range][image]; keypoints have one category.
    drawn.evalImgs = [ev.evalImgs[a * num_images + i] for a in range(num_areas) for i in draw]
    ids = [pe.imgIds[i] for i in draw]
    drawn._paramsEval = copy.copy(pe)
    drawn._paramsEval.imgIds = ids
    drawn.params = copy.copy(ev.params)
    drawn.params.imgIds = ids
    with contextlib.redirect_stdout(io.StringIO()):
        drawn.accumulate()
        drawn.summarize()
    return max(float(drawn.stats[0]), 0.0)  # -1: a draw without ground-truth persons


def format_table(summary: dict[str, float | None], per_keypoint: dict[str, dict] | None = None) -> str:
    """The summary (and the per-keypoint breakdown) as fixed-width text, values in percent."""
    def pct(v: float | None) -> str:
        return "    -" if v is None else f"{100 * v:5.1f}"

    lines = [" ".join(f"{k:>5}" for k in summary), " ".join(pct(v) for v in summary.values())]
    if per_keypoint:
        lines += ["", "per keypoint, on matched persons (OKS_k: that keypoint's OKS term):",
                  f"  {'keypoint':<15}{'n':>5} {'OKS_k':>5} {'>=.50':>5} {'>=.75':>5}"]
        for name, v in per_keypoint.items():
            cells = [pct(v[k]) if v["n"] else pct(None) for k in ("oks", "acc50", "acc75")]
            lines.append(f"  {name:<15}{v['n']:>5} " + " ".join(cells))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ prediction

def gt_boxes_by_image(coco_gt) -> dict[int, np.ndarray]:
    """Ground-truth boxes ``(N, 4)`` xyxy of all non-crowd persons of each image ("use GT bbox")."""
    out: dict[int, list] = {}
    for a in coco_gt.dataset["annotations"]:
        if a.get("iscrowd", 0) or a.get("category_id", 1) != 1:
            continue
        x, y, w, h = _bbox_xywh(a["bbox"], f"annotation {a.get('id')} of image {a['image_id']}")
        if w <= 0 or h <= 0:
            continue
        out.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _finite(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not np.isfinite(v):
        raise DatasetError(f"{what} must be finite, got {v}")
    return v


def _bbox_xywh(bbox, what: str) -> tuple[float, float, float, float]:
    """A checked COCO ``bbox`` [x, y, w, h] (4 finite numbers) or :class:`DatasetError` naming ``what``."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise DatasetError(f"{what}: bbox must be [x, y, w, h], got {str(bbox)[:60]}")
    x, y, w, h = (_finite(v, f"{what}: bbox value") for v in bbox)
    return x, y, w, h


def detection_boxes_by_image(path: str | Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Person detections of a COCO detection results json: ``{image_id: (boxes (N, 4) xyxy, box_scores (N,))}``."""
    path = Path(path)
    dets = read_json(path, "detections file")
    if not isinstance(dets, list):
        raise DatasetError(f"detections file {path} must hold a list of {{image_id, bbox, score}}")
    out: dict[int, list] = {}
    for i, d in enumerate(dets):
        if not isinstance(d, dict) or not {"image_id", "bbox", "score"} <= set(d):
            raise DatasetError(f"detection {i} of {path} needs image_id, bbox [x, y, w, h] and score")
        image_id = _image_id(d["image_id"], f"detection {i} of {path}")
        if d.get("category_id", 1) != 1:
            continue
        x, y, w, h = _bbox_xywh(d["bbox"], f"detection {i} of {path}")
        score = _finite(d["score"], f"detection {i} of {path}: score")
        if w <= 0 or h <= 0:
            continue
        out.setdefault(image_id, []).append([x, y, x + w, y + h, score])
    return {k: (np.asarray(v)[:, :4], np.asarray(v)[:, 4]) for k, v in out.items()}


def limit_images(coco_gt, max_images: int | None):
    """The first ``max_images`` images (annotation-file order) of ``coco_gt`` with their annotations (None or 0:
    all of them; a negative count is a :class:`UsageError`, not "all but the last k")."""
    if max_images is not None and max_images < 0:
        raise UsageError(f"max_images must be >= 0, got {max_images}")
    if not max_images or max_images >= len(coco_gt.dataset["images"]):
        return coco_gt
    data = dict(coco_gt.dataset)
    data["images"] = data["images"][:max_images]
    keep = {img["id"] for img in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    return coco_from_dict(data)


def predict_coco(estimator: Callable, ann: str | Path | object, images_dir: str | Path, boxes: str = "gt",
                 progress: bool = False) -> list[dict]:
    """Run ``estimator`` (a :class:`~hrgcnet.pipeline.PoseEstimator`) over the images of ``ann``.

    Args:
        boxes: ``"gt"`` (ground-truth boxes of all non-crowd persons, box_score 1), the path of a COCO
            detection results json, or ``"detector"`` (the estimator's own detector on every image).

    Returns:
        COCO keypoint results (``PoseResult.to_coco_json`` of every image).
    """
    coco_gt = load_coco_gt(ann)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DatasetError(f"image folder not found: {images_dir}")
    images = coco_gt.dataset["images"]
    if boxes == "gt":
        per_image = {k: (v, np.ones(len(v))) for k, v in gt_boxes_by_image(coco_gt).items()}
    elif boxes == "detector":
        per_image = None
    else:
        per_image = detection_boxes_by_image(boxes)
    todo = [img for img in images if per_image is None or img["id"] in per_image]
    missing = [img["file_name"] for img in todo if not (images_dir / img["file_name"]).is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} image(s) of the annotation file are missing in {images_dir}, "
                           f"e.g. {missing[0]}")
    results: list[dict] = []
    for img in _progress(todo, progress, "eval"):
        path = images_dir / img["file_name"]
        if per_image is None:
            res = estimator(path, image_id=img["id"], file_name=img["file_name"])
        else:
            b, s = per_image[img["id"]]
            try:
                res = estimator(path, boxes=b, box_scores=s)
            except UsageError as exc:  # e.g. a box of the detections file entirely outside its image
                raise DatasetError(f"{img['file_name']} (image id {img['id']}): {exc}") from exc
        results.extend(res.to_coco_json(img["id"]))
    return results


def predict_labelled_crops(estimator, ann: str | Path | object, images_dir: str | Path
                           ) -> tuple[np.ndarray, list[dict], list[dict]]:
    """Every person of ``ann`` with labelled keypoints, cropped from its ground-truth box and run through
    ``estimator`` (a :class:`~hrgcnet.pipeline.PoseEstimator`) as one batch of crops: how backends and
    precisions are compared crop by crop (the accuracy guard).

    Returns:
        keypoints ``(P, K, 3)`` in the crops' input pixels (each crop as the image), COCO results of the same
        persons in image pixels (score = mean keypoint score), and their P annotations, in one order.
    """
    from ..io import load_image

    coco_gt = load_coco_gt(ann)
    crops, centers, scales, persons = [], [], [], []
    for img_id in coco_gt.getImgIds():
        anns = [a for a in coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=img_id)) if a["num_keypoints"] > 0]
        if not anns:
            continue
        x, y, w, h = np.array([a["bbox"] for a in anns], float).T
        image = load_image(Path(images_dir) / coco_gt.loadImgs(img_id)[0]["file_name"])
        crop, center, scale = estimator.crops(image, np.stack([x, y, x + w, y + h], 1))
        crops.append(crop)
        centers.append(center)
        scales.append(scale)
        persons += anns
    heatmaps = estimator.heatmaps_of_crops(np.concatenate(crops))[0].numpy()
    n, (h_in, w_in) = len(heatmaps), estimator.input_hw
    # the crop itself as the "image": centre at its middle, scale = its size in units of 200 px
    in_crop = estimator.decode(heatmaps, np.tile([w_in / 2, h_in / 2], (n, 1)), np.tile([w_in / 200, h_in / 200], (n, 1)))
    in_image = estimator.decode(heatmaps, np.concatenate(centers), np.concatenate(scales))
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": k.ravel().tolist(),
                "score": float(k[:, 2].mean())} for a, k in zip(persons, in_image.astype(float))]
    return in_crop, results, persons


def _progress(items: Sequence, enabled: bool, desc: str) -> Iterable:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", dynamic_ncols=True)


def evaluate_model(model, ann: str | Path, images_dir: str | Path, input_hw: tuple[int, int],
                   flip_test: bool = True, max_images: int | None = None, progress: bool = False,
                   refine: str = "quarter", channels_last: bool = False,
                   ) -> tuple[dict[str, float | None], list[dict]]:
    """GT-box COCO AP of an in-memory ``model`` (training validation); returns ``(summary, results)``.

    Uses ``PoseEstimator.from_model`` (fp32, OKS-NMS, ``refine`` decoding), so validation scores exactly
    what inference would produce. The model is put in eval mode and restored to its previous mode afterwards.
    """
    from ..pipeline import PoseEstimator

    was_training = model.training
    model.eval()
    try:
        coco_gt = limit_images(load_coco_gt(ann), max_images)
        est = PoseEstimator.from_model(model, input_hw=input_hw, flip_test=flip_test, refine=refine,
                                       channels_last=channels_last)
        results = predict_coco(est, coco_gt, images_dir, boxes="gt", progress=progress)
        return evaluate_coco(results, coco_gt), results
    finally:
        model.train(was_training)
