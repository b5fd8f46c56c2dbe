"""``hrgcnet eval``: COCO keypoint AP of a model on a COCO-format annotation file.

Predictions come from :class:`hrgcnet.pipeline.PoseEstimator`, the same code path as ``hrgcnet predict``,
and are scored with pycocotools. ``--boxes gt`` is the standard "use GT bbox" protocol: every non-crowd
ground-truth person box of every image, box score 1. ``--results FILE`` scores an existing results file
without running a model.

``--compare BASELINE_JSON`` adds a paired bootstrap over images (``hrgcnet.evaluate.paired_bootstrap``)
of these predictions against a baseline's results file (e.g. written earlier with ``--out``): the AP
difference with its 95% interval, the measure of a "meaningful improvement" on a small validation set.

Output: a table (AP, AP50, AP75, APM, APL, AR in percent, and the per-keypoint breakdown); with ``--json``
one JSON object with the keys AP, AP50, AP75, APM, APL, AR, values in 0..1 (and ``compare``, the
bootstrap's dict, with ``--compare``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="COCO keypoint AP of a model on an annotation file",
        description="Predict every image of a COCO keypoint file with PoseEstimator and score with pycocotools.")
    p.add_argument("--ann", required=True, help="COCO keypoint annotation JSON")
    p.add_argument("--images", default=None, help="image folder (default: images/ next to the JSON)")
    p.add_argument("--model", default="hrgcnet-w32", help="model name (see `hrgcnet models`)")
    p.add_argument("--weights", default="default",
                   help="weights file (.safetensors/.pth, e.g. runs/NAME/best.safetensors); default: the committed "
                        "weights; none: untrained")
    p.add_argument("--boxes", default="gt",
                   help="gt (ground-truth boxes of all persons), a COCO detections JSON, yolo, ssd or full")
    p.add_argument("--no-flip", action="store_true", help="no flip test")
    p.add_argument("--input-size", default=None, help="crop size HxW (default: from the weights, else 256x192)")
    p.add_argument("--refine", default="quarter", choices=("quarter", "dark", "none"), help="sub-pixel decoding")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--max-images", type=int, default=None, help="only the first N images of the file")
    p.add_argument("--results", default=None, metavar="RESULTS_JSON",
                   help="score this COCO keypoint results file instead of running a model")
    p.add_argument("--out", default=None, metavar="RESULTS_JSON", help="write the predictions (COCO results) here")
    p.add_argument("--compare", default=None, metavar="BASELINE_JSON",
                   help="a baseline's COCO keypoint results: paired bootstrap of the AP difference over images")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap draws of --compare")
    p.add_argument("--json", action="store_true", help="print one JSON object {AP, AP50, AP75, APM, APL, AR}")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluate import (evaluate_coco, format_table, limit_images, load_coco_gt, load_results, paired_bootstrap,
                            per_keypoint_oks, predict_coco)

    ann = Path(args.ann)
    coco_gt = limit_images(load_coco_gt(ann), args.max_images)
    baseline = None
    if args.compare:  # checked before any prediction runs
        if args.bootstrap < 1:
            raise UsageError(f"--bootstrap must be >= 1, got {args.bootstrap}")
        baseline = load_results(args.compare)
    t0 = time.perf_counter()
    if args.results:
        results = load_results(args.results)
    else:
        from ..pipeline import PoseEstimator

        images = Path(args.images) if args.images else ann.parent / "images"
        if args.boxes in ("gt", "yolo", "ssd", "full"):
            detector, boxes = ("full", "gt") if args.boxes == "gt" else (args.boxes, "detector")
        elif args.boxes.lower().endswith(".json"):
            detector, boxes = "full", args.boxes
        else:
            raise UsageError(f"--boxes must be gt, yolo, ssd, full or a detections .json file, got {args.boxes!r}")
        est = PoseEstimator(model=args.model, weights=None if args.weights == "none" else args.weights,
                            device=args.device, detector=detector, flip_test=not args.no_flip,
                            input_hw=args.input_size, refine=args.refine, max_persons=None)
        for note in est.notes:
            print(f"note: {note}", file=sys.stderr)
        results = predict_coco(est, coco_gt, images, boxes=boxes, progress=not args.no_progress and not args.json)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(results))
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
