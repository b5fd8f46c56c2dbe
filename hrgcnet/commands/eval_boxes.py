"""``hrgcnet eval-boxes``: person-box AP, recall by area, precision and speed of person detectors.

Example (the detector table of ``hrgcnet/weights/README.md``)::

    hrgcnet eval-boxes --ann ../shared/data/coco/val.json --detector nanodet --detector ssd --threads 1

Each detector runs on every image of the annotation file with its boxes kept down to ``--min-score`` (0.05: COCO
AP scores the whole precision-recall curve); recall by COCO area and precision are reported at each ``--thr``.
A detector that cannot be loaded is an error (exit 2), never silently replaced by a fallback: ``--detector yolo``
offline says why instead of measuring another detector. See :mod:`hrgcnet.detectors.evaluate` for the definitions.

Output: a table, or with ``--json`` one JSON list with one object per detector (keys ``detector``, ``images``,
``persons``, ``AP``, ``AP50``, ``AP75``, ``APS``, ``APM``, ``APL``, ``at`` (one object per threshold:
``threshold``, ``precision``, ``recall``, ``recall_small``, ``recall_medium``, ``recall_large``, ...),
``ms_mean``, ``ms_median``, ``threads``, ``notes``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UsageError

#: Box-score thresholds reported by default: 0.3 (high recall) and 0.5 (nanodet's default and the app's box
#: threshold).
DEFAULT_THRESHOLDS = (0.3, 0.5)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval-boxes", help="person-box AP, recall by area, precision and ms/image of detectors",
        description="Run person detectors over a COCO annotation file and score their person boxes with "
                    "pycocotools (AP, AP50), recall by COCO area and precision at box-score thresholds, and the "
                    "detector's time per image.")
    p.add_argument("--ann", required=True, help="COCO annotation JSON with person boxes")
    p.add_argument("--images", default=None, help="image folder (default: images/ next to the JSON)")
    p.add_argument("--detector", action="append", default=None, metavar="NAME",
                   help="auto, nanodet, ssd, yolo, full or a COCO detections JSON; repeat for several "
                        "(default auto)")
    p.add_argument("--yolo-weights", default=None, help="YOLO weights for --detector yolo (default yolo11n.pt)")
    p.add_argument("--min-score", type=float, default=0.05,
                   help="lowest box score the detectors keep (default 0.05, for AP)")
    p.add_argument("--thr", type=float, action="append", default=None, metavar="T",
                   help="box-score threshold for recall and precision; repeat for several (default 0.3 and 0.5)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's, = cores); the machine may be shared")
    p.add_argument("--device", default="cpu", help="cpu or cuda, for nanodet and yolo (default cpu)")
    p.add_argument("--nanodet-side", type=int, default=None, metavar="N",
                   help="longer side of nanodet's letterboxed input, a multiple of 32 (default 512)")
    p.add_argument("--max-images", type=int, default=None, help="only the first N (>= 1) images of the file")
    p.add_argument("--json", action="store_true", help="print one JSON list, one object per detector")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    thresholds = tuple(args.thr) if args.thr else DEFAULT_THRESHOLDS
    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise UsageError(f"--thr must be in [0, 1], got {list(thresholds)}")
    if not 0.0 <= args.min_score <= 1.0:
        raise UsageError(f"--min-score must be in [0, 1], got {args.min_score}")
    if args.max_images is not None and args.max_images < 1:
        raise UsageError(f"--max-images must be >= 1, got {args.max_images}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    import torch

    from ..detectors.evaluate import evaluate_boxes, format_table
    from ..detectors import create_detector
    from ..evaluation.coco import limit_images, load_coco_gt

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    ann = Path(args.ann)
    coco_gt = limit_images(load_coco_gt(ann), args.max_images)
    images = Path(args.images) if args.images else ann.parent / "images"
    rows = []
    for name in args.detector or ["auto"]:
        kwargs = {"min_score": args.min_score, "device": args.device}
        if args.yolo_weights:
            kwargs["weights"] = args.yolo_weights
        if args.nanodet_side:
            kwargs["input_side"] = args.nanodet_side
        detector = create_detector(name, fallback=None, **kwargs)
        row = evaluate_boxes(detector, coco_gt, images, thresholds,
                             progress=not args.no_progress and not args.json)
        row["threads"] = torch.get_num_threads()
        rows.append(row)
        for note in row["notes"]:
            print(f"note: {row['detector']}: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows))
    else:
        print(format_table(rows))
        print(f"torch threads: {torch.get_num_threads()}")
    return 0
