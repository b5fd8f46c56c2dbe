"""``hrgcnet predict``: poses of images and folders of images.

Exit codes: 0 every image done; 1 some images failed (one ``PATH: error: ...`` line each on stderr);
2 user error (unknown model, missing path, bad option), printed by :mod:`hrgcnet.cli`.
stdout gets one summary line per image (nothing with ``--json -``, which writes the JSON there).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from ..errors import HRGCNetError, UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict", help="estimate the poses in images or folders of images",
        description="Detect persons, estimate their 17 COCO keypoints and write COCO keypoint results and/or "
                    "drawn images. Exit codes: 0 ok, 1 some images failed, 2 usage error.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files and/or folders of images")
    p.add_argument("--model", default="hrgcnet-w32", help="model name (see `hrgcnet models`); default hrgcnet-w32")
    p.add_argument("--weights", default="default",
                   help="weights file (.safetensors/.pth); default: the model's committed weights, else untrained")
    p.add_argument("--detector", default="yolo",
                   help="yolo (falls back to ssd/full offline), ssd, full, or a COCO boxes JSON file; default yolo")
    p.add_argument("--yolo-weights", default=None, help="YOLO weights for --detector yolo (default yolo11n.pt)")
    p.add_argument("--no-flip", action="store_true", help="disable the flip test (about 2x faster)")
    p.add_argument("--input-size", default=None, help="HxW crop size, e.g. 256x192 (default: from the weights)")
    p.add_argument("--refine", default="quarter", choices=("quarter", "dark", "none"),
                   help="sub-pixel decoding (default quarter, the official rule)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                   help="write COCO keypoint results to OUT ('-' for stdout)")
    p.add_argument("--save-vis", default=None, metavar="DIR", help="write each image with its poses drawn to DIR")
    p.add_argument("--kpt-thr", type=float, default=0.3, help="keypoint score threshold for drawing (default 0.3)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar for folders")
    p.set_defaults(func=run)


def collect_images(inputs: list[str]) -> tuple[list[Path], bool]:
    """Files as given and the images inside folders (sorted, not recursive); True if any folder was given.

    Raises:
        UsageError: a path that does not exist, or a folder without images.
    """
    from ..io import list_images

    paths: list[Path] = []
    any_folder = False
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise UsageError(f"{path}: folder contains no images (.jpg, .png, ...)")
            paths.extend(found)
            any_folder = True
        elif path.exists():
            paths.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return paths, any_folder


def _vis_path(folder: Path, image: Path, used: set[str]) -> Path:
    name = image.stem + ".jpg"
    i = 1
    while name in used:
        name = f"{image.stem}_{i}.jpg"
        i += 1
    used.add(name)
    return folder / name


def run(args: argparse.Namespace) -> int:
    paths, any_folder = collect_images(args.inputs)
    if args.kpt_thr < 0:
        raise UsageError("--kpt-thr must be >= 0")
    import cv2

    from ..detectors import image_id_from_file_name
    from ..io import load_image_with_notes
    from ..pipeline import PoseEstimator
    from ..viz import draw_poses

    detector_kwargs = {"weights": args.yolo_weights} if args.yolo_weights else None
    weights = None if args.weights in ("none", "None") else args.weights
    with warnings.catch_warnings():  # the fallback warning is printed below as a note
        warnings.simplefilter("ignore", UserWarning)
        est = PoseEstimator(args.model, weights=weights, device=args.device, detector=args.detector,
                            flip_test=not args.no_flip, input_hw=args.input_size, refine=args.refine,
                            detector_kwargs=detector_kwargs)
    for note in est.notes:
        print(f"note: {note}", file=sys.stderr)
    vis_dir = Path(args.save_vis) if args.save_vis else None
    if vis_dir is not None:
        vis_dir.mkdir(parents=True, exist_ok=True)
    out = sys.stderr if args.json_out == "-" else sys.stdout
    results: list[dict] = []
    used_names: set[str] = set()
    failed = 0
    items = paths
    if any_folder and not args.no_progress:
        from tqdm import tqdm

        items = tqdm(paths, desc="predict", unit="img", dynamic_ncols=True, file=sys.stderr)
    for index, path in enumerate(items, start=1):
        image_id = image_id_from_file_name(path)
        try:
            image, image_notes = load_image_with_notes(path)
            res = est(image, image_id=image_id, file_name=path.name)
        except HRGCNetError as exc:
            failed += 1
            message = str(exc).removeprefix(f"{path}: ")
            _write(items, f"{path}: error: {message}", sys.stderr)
            continue
        for note in image_notes + res.notes[len(est.notes):]:
            _write(items, f"{path}: note: {note}", sys.stderr)
        coco_id = image_id if image_id is not None else index
        for row in res.to_coco_json(coco_id):
            row["file_name"] = str(path)
            results.append(row)
        t = res.timings
        _write(items, f"{path}: {len(res)} person(s), detect {t['detect_ms']:.0f} ms, pose {t['pose_ms']:.0f} ms, "
                      f"decode {t['decode_ms']:.0f} ms", out)
        if vis_dir is not None:
            drawn = draw_poses(image, res, kpt_thr=args.kpt_thr)
            target = _vis_path(vis_dir, path, used_names)
            if not cv2.imwrite(str(target), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                failed += 1
                _write(items, f"{path}: error: cannot write {target}", sys.stderr)
    if args.json_out:
        text = json.dumps(results)
        if args.json_out == "-":
            print(text)
        else:
            Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json_out).write_text(text)
    if failed:
        print(f"{failed} of {len(paths)} image(s) failed", file=sys.stderr)
        return 1
    return 0


def _write(items, line: str, stream) -> None:
    """Print without breaking a tqdm bar."""
    writer = getattr(items, "write", None)
    if writer is not None:
        writer(line, file=stream)
    else:
        print(line, file=stream)
