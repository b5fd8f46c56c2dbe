"""``hrgcnet eval``: COCO keypoint AP of a model on a COCO-format annotation file.

Predictions come from :class:`hrgcnet.pipeline.PoseEstimator`, the same code path as ``hrgcnet predict``,
and are scored with pycocotools. ``--boxes gt`` is the standard "use GT bbox" protocol: every non-crowd
ground-truth person box of every image, box score 1. ``--results FILE`` scores an existing results file
without running a model (options of a model run, ``--model``, ``--weights``, ``--boxes``, ``--images``,
``--input-size``, ``--out``, are then refused rather than ignored).

``--max-images N`` scores the first N images; a ``--results`` / ``--compare`` file of a longer run is restricted
to those images (a note says how many rows were left out). Result image ids that are not in the annotation file
at all are an error, found before any prediction runs.

``--compare BASELINE_JSON`` adds a paired bootstrap over images (``hrgcnet.evaluation.coco.paired_bootstrap``)
of these predictions against a baseline's results file (e.g. written earlier with ``--out``): the AP
difference with its 95% interval, the measure of a "meaningful improvement" on a small validation set.

Output: a table (AP, AP50, AP75, APM, APL, AR in percent, and the per-keypoint breakdown); with ``--json``
one JSON object with the keys AP, AP50, AP75, APM, APL, AR, values in 0..1 (and ``compare``, the
bootstrap's dict, with ``--compare``). ``--out`` is checked before predicting (not a folder, its folder
writable; not the ``--ann``, ``--compare`` or ``--boxes`` file it would replace) and written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import DatasetError, UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="COCO keypoint AP of a model on an annotation file",
        description="Predict every image of a COCO keypoint file with PoseEstimator and score with pycocotools.")
    p.add_argument("--ann", required=True, help="COCO keypoint annotation JSON")
    p.add_argument("--images", default=None, help="image folder (default: images/ next to the JSON)")
    p.add_argument("--model", default=None, help="model name (see `hrgcnet models`); default hrgcnet-w32")
    p.add_argument("--weights", default=None,
                   help="weights file (.safetensors/.pth, e.g. runs/NAME/best.safetensors); default: the committed "
                        "weights; none: untrained")
    p.add_argument("--boxes", default=None,
                   help="gt (ground-truth boxes of all persons; the default), a COCO detections JSON, auto, yolo, "
                        "nanodet, ssd or full")
    p.add_argument("--no-flip", action="store_true", help="no flip test")
    p.add_argument("--input-size", default=None, help="crop size HxW (default: from the weights, else 256x192)")
    p.add_argument("--refine", default="dark", choices=("dark", "quarter", "none"),
                   help="sub-pixel decoding (default dark; quarter is the official HRNet rule)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--backend", default=None, choices=("auto", "torch", "openvino"),
                   help="where the network runs: auto (default: OpenVINO on a CPU, exported once per model and input "
                        "size into ~/.cache/hrgcnet/openvino; torch on CUDA), torch or openvino")
    p.add_argument("--precision", default=None, choices=("auto", "fp32", "bf16", "int8"),
                   help="auto (default: on CPUs with native bf16, OpenVINO runs the stem in fp32 and the rest in bf16 "
                        "and torch autocasts to bf16; else fp32), fp32, bf16, or int8 (OpenVINO only: quantized by "
                        "NNCF on first use; AP as fp32, but fewer keypoints within a pixel)")
    p.add_argument("--max-images", type=int, default=None,
                   help="only the first N (>= 1) images of the file; --results/--compare rows of other images are "
                        "left out")
    p.add_argument("--results", default=None, metavar="RESULTS_JSON",
                   help="score this COCO keypoint results file instead of running a model")
    p.add_argument("--out", default=None, metavar="RESULTS_JSON", help="write the predictions (COCO results) here")
    p.add_argument("--compare", default=None, metavar="BASELINE_JSON",
                   help="a baseline's COCO keypoint results: paired bootstrap of the AP difference over images")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap draws of --compare (>= 1; only used, and checked, with --compare)")
    p.add_argument("--json", action="store_true", help="print one JSON object {AP, AP50, AP75, APM, APL, AR}")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


#: Options that only a model run uses: refused with --results (they would be silently ignored).
_MODEL_RUN_OPTIONS = ("model", "weights", "boxes", "images", "input_size", "out", "backend", "precision")


def _check_options(args: argparse.Namespace) -> None:
    """Every usage error that can be found before reading big files or predicting."""
    from ..jsonfile import check_output_path, same_file

    if args.max_images is not None and args.max_images < 1:
        raise UsageError(f"--max-images must be >= 1, got {args.max_images}")
    if args.compare and args.bootstrap < 1:
        raise UsageError(f"--bootstrap must be >= 1, got {args.bootstrap}")
    if args.results:
        given = [f"--{name.replace('_', '-')}" for name in _MODEL_RUN_OPTIONS if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{', '.join(given)} only apply when a model runs; --results scores an existing file "
                             "(drop them, or drop --results)")
    if args.out:
        inputs = {"--ann": args.ann, "--compare": args.compare,
                  "--boxes": args.boxes if args.boxes and args.boxes.lower().endswith(".json") else None}
        for option, path in inputs.items():
            if path and same_file(args.out, path):
                raise UsageError(f"--out {args.out} is the {option} file; it would be replaced (choose another name)")
        check_output_path(args.out, "--out")


def _restrict(results: list[dict], full_ids: set, kept_ids: set, option: str, path: str, max_images) -> list[dict]:
    """The rows of ``results`` for the evaluated images; DatasetError for ids not in the annotation file at all."""
    unknown = {r["image_id"] for r in results} - full_ids
    if unknown:
        raise DatasetError(f"{option} {path}: {len(unknown)} result image id(s) are not in the annotation file, "
                           f"e.g. {sorted(unknown, key=repr)[0]!r}")
    kept = [r for r in results if r["image_id"] in kept_ids]
    if len(kept) < len(results):
        print(f"note: {option} {path}: left out {len(results) - len(kept)} of {len(results)} rows, for images "
              f"beyond --max-images {max_images}", file=sys.stderr)
    return kept


def run(args: argparse.Namespace) -> int:
    from ..evaluation.coco import (evaluate_coco, format_table, limit_images, load_coco_gt, load_results,
                                   paired_bootstrap, per_keypoint_oks, predict_coco)
    from ..jsonfile import write_text_atomic

    _check_options(args)
    ann = Path(args.ann)
    full_gt = load_coco_gt(ann)
    coco_gt = limit_images(full_gt, args.max_images)
    full_ids, kept_ids = set(full_gt.getImgIds()), set(coco_gt.getImgIds())
    baseline = None
    if args.compare:  # checked before any prediction runs
        baseline = _restrict(load_results(args.compare), full_ids, kept_ids, "--compare", args.compare,
                             args.max_images)
        if not baseline:
            raise DatasetError(f"--compare {args.compare} has no results for the evaluated images")
    t0 = time.perf_counter()
    if args.results:
        results = _restrict(load_results(args.results), full_ids, kept_ids, "--results", args.results,
                            args.max_images)
    else:
        from ..pipeline import PoseEstimator

        images = Path(args.images) if args.images else ann.parent / "images"
        boxes_opt = args.boxes or "gt"
        if boxes_opt in ("gt", "auto", "yolo", "nanodet", "ssd", "full"):
            detector, boxes = ("full", "gt") if boxes_opt == "gt" else (boxes_opt, "detector")
        elif boxes_opt.lower().endswith(".json"):
            detector, boxes = "full", boxes_opt
        else:
            raise UsageError(f"--boxes must be gt, auto, yolo, nanodet, ssd, full or a detections .json file, "
                             f"got {boxes_opt!r}")
        weights = args.weights or "default"
        est = PoseEstimator(model=args.model or "hrgcnet-w32", weights=None if weights == "none" else weights,
                            device=args.device, detector=detector, flip_test=not args.no_flip,
                            input_hw=args.input_size, refine=args.refine, max_persons=None, backend=args.backend,
                            precision=args.precision or "auto")
        for note in est.notes + ([est.backend_note] if est.backend_note else []):
            print(f"note: {note}", file=sys.stderr)
        results = predict_coco(est, coco_gt, images, boxes=boxes, progress=not args.no_progress and not args.json)
        if args.out:
            write_text_atomic(args.out, json.dumps(results))
    summary = evaluate_coco(results, coco_gt)
    compare = None if baseline is None else paired_bootstrap(results, baseline, coco_gt, num_samples=args.bootstrap)
    if args.json:
        print(json.dumps(summary if compare is None else {**summary, "compare": compare}))
        return 0
    seconds = time.perf_counter() - t0
    print(format_table(summary, per_keypoint_oks(results, coco_gt)))
    if compare:
        low, high = compare["ci95"]
        print(f"\nAP {compare['AP_a']:.3f} vs {compare['AP_b']:.3f} ({args.compare}): {compare['delta']:+.3f}, "
              f"95% interval [{low:+.3f}, {high:+.3f}], not better in {100 * compare['share_a_not_better']:.1f}% "
              f"of {compare['num_samples']} draws of the {compare['num_images']} images")
    print(f"\n{len(coco_gt.dataset['images'])} images, {len(results)} person results, {seconds:.1f} s")
    return 0
