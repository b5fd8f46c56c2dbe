"""``hrgcnet eval``: COCO keypoint AP of a model on a COCO-format annotation file.

Predictions come from :class:`hrgcnet.pipeline.PoseEstimator`, the same code path as ``hrgcnet predict``,
and are scored with pycocotools. ``--boxes gt`` is the standard "use GT bbox" protocol: every non-crowd
ground-truth person box of every image, box score 1. ``--results FILE`` scores an existing results file
without running a model.

Output: a table (AP, AP50, AP75, APM, APL, AR in percent, and the per-keypoint breakdown); with ``--json``
one JSON object with exactly the keys AP, AP50, AP75, APM, APL, AR, values in 0..1.
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
    p.add_argument("--json", action="store_true", help="print one JSON object {AP, AP50, AP75, APM, APL, AR}")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluate import (evaluate_coco, format_table, limit_images, load_coco_gt, per_keypoint_oks,
                            predict_coco)

    ann = Path(args.ann)
    coco_gt = limit_images(load_coco_gt(ann), args.max_images)
    t0 = time.perf_counter()
    if args.results:
        from ..evaluate import load_results

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
    if args.json:
        print(json.dumps(summary))
        return 0
    seconds = time.perf_counter() - t0
    print(format_table(summary, per_keypoint_oks(results, coco_gt)))
    print(f"\n{len(coco_gt.dataset['images'])} images, {len(results)} person results, {seconds:.1f} s")
    return 0
