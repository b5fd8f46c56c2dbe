"""``hrgcnet predict``: poses of images, folders of images, or one video.

A video (``.mp4``, ``.mov``, ``.webm``, ``.mkv``, ``.avi``, ``.m4v``) is the only input of its run: its persons are
tracked across frames (``track_id`` in the JSON, with ``frame`` and ``time_s``), keypoints are One-Euro smoothed
unless ``--no-smooth``, and ``--save-vis`` writes an H.264 mp4 (``--save-vis out.mp4``, or a folder for
``<folder>/<stem>.mp4``), replaced only by a complete file, like ``--json``.

Exit codes: 0 every image done; 1 some images failed (one ``PATH: error: ...`` line each on stderr);
2 user error (unknown model, missing path, bad option), printed by :mod:`hrgcnet.cli`.
stdout gets one summary line per image (nothing with ``--json -``, which writes the JSON there).

Output files never replace inputs or other files by surprise: ``--json OUT`` is checked before any image is
predicted (not a folder, its folder writable, not an input) and written atomically at the end (an existing OUT is
replaced only by a complete file). ``--save-vis DIR`` writes ``DIR/<stem>.jpg`` per image; a DIR that is one of
the input folders, or a drawing that would replace an input image, is a usage error; a drawing whose name is
taken (by an existing file, or another input of the same stem) gets the first free ``<stem>_1.jpg``,
``<stem>_2.jpg``... instead, with a note on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from ..errors import HRGCNetError, UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict", help="estimate the poses in images or folders of images",
        description="Detect persons, estimate their 17 COCO keypoints and write COCO keypoint results and/or "
                    "drawn images. Exit codes: 0 ok, 1 some images failed, 2 usage error.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_DIR_OR_VIDEO",
                   help="image files and/or folders of images, or one video file")
    p.add_argument("--model", default="hrgcnet-w32", help="model name (see `hrgcnet models`); default hrgcnet-w32")
    p.add_argument("--weights", default="default",
                   help="weights file (.safetensors/.pth); default: the model's committed weights, else untrained")
    p.add_argument("--detector", default="auto",
                   help="auto (yolo when its weights are here or can be downloaded, else nanodet), yolo (falls back "
                        "to nanodet offline, with a note), nanodet (offline), ssd, full, or a COCO boxes JSON file; "
                        "default auto")
    p.add_argument("--yolo-weights", default=None, help="YOLO weights for --detector yolo (default yolo11n.pt)")
    p.add_argument("--no-flip", action="store_true", help="disable the flip test (about 2x faster)")
    p.add_argument("--input-size", default=None, help="HxW crop size, e.g. 256x192 (default: from the weights)")
    p.add_argument("--refine", default="dark", choices=("dark", "quarter", "none"),
                   help="sub-pixel decoding (default dark; quarter is the official HRNet rule)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--backend", default=None, choices=("auto", "torch", "openvino"),
                   help="where the network runs: auto (default: OpenVINO on a CPU, exported once per model and input "
                        "size into ~/.cache/hrgcnet/openvino; torch on CUDA), torch or openvino")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "int8"),
                   help="auto (default: on CPUs with native bf16, OpenVINO runs the stem in fp32 and the rest in bf16 "
                        "and torch autocasts to bf16; else fp32), fp32, bf16, or int8 (OpenVINO only: quantized by "
                        "NNCF on first use; AP as fp32, but fewer keypoints within a pixel)")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                   help="write COCO keypoint results to OUT ('-' for stdout)")
    p.add_argument("--save-vis", default=None, metavar="DIR",
                   help="write each image with its poses drawn to DIR/<stem>.jpg; existing files are never replaced "
                        "(a taken name gets a _1, _2... suffix, noted on stderr); DIR must not be an input folder. "
                        "For a video: an .mp4 file name (replaced only by a complete video), or a folder for "
                        "DIR/<stem>.mp4")
    p.add_argument("--kpt-thr", type=float, default=0.3, help="keypoint score threshold for drawing (default 0.3)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar for folders and videos")
    video = p.add_argument_group("video")
    video.add_argument("--every", type=int, default=1, metavar="K",
                       help="run the detector on every K-th frame; boxes in between follow the keypoints (default 1)")
    video.add_argument("--max-frames", type=int, default=None, metavar="N", help="process the first N frames only")
    video.add_argument("--no-smooth", action="store_true",
                       help="raw keypoints (no One-Euro smoothing), e.g. for evaluation")
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


def cheap_failures(paths: list[Path]) -> dict[Path, str]:
    """The images that fail without being read (:func:`hrgcnet.io.check_image_file`: empty, too large), with the
    reason; checked before the model is loaded, so that a run of only such files ends in a moment."""
    from ..io import check_image_file

    out = {}
    for path in paths:
        try:
            check_image_file(path)
        except HRGCNetError as exc:
            out[path] = str(exc).removeprefix(f"{path}: ")
    return out


def vis_targets(folder: Path, images: list[Path], inputs: list[str]) -> dict[Path, Path]:
    """Where ``--save-vis folder`` draws each image: ``folder/<stem>.jpg``, or the first free ``<stem>_N.jpg`` when
    that name is taken by an existing file or by another image of this run.

    Raises:
        UsageError: ``folder`` is one of the input folders, or is not a folder, or a drawing would replace an
            input image.
    """
    from ..jsonfile import same_file

    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--save-vis {folder} is not a folder")
    for text in inputs:
        if Path(text).is_dir() and same_file(text, folder):
            raise UsageError(f"--save-vis {folder} is an input folder: drawings would replace input images or be "
                             "read as inputs next time; choose another folder")
    used: set[str] = set()
    targets: dict[Path, Path] = {}
    for image in images:
        name, i = image.stem + ".jpg", 1
        if same_file(folder / name, image):
            raise UsageError(f"--save-vis {folder}: the drawing of {image} would replace that input image; "
                             "choose another folder")
        while name in used or (folder / name).exists():
            name = f"{image.stem}_{i}.jpg"
            i += 1
        used.add(name)
        targets[image] = folder / name
    return targets


def run(args: argparse.Namespace) -> int:
    from ..video import is_video_path

    if args.kpt_thr < 0:
        raise UsageError("--kpt-thr must be >= 0")
    if any(is_video_path(text) for text in args.inputs):
        if len(args.inputs) > 1:
            raise UsageError("a video is the only input of a run: predict one video at a time")
        return run_video(args, Path(args.inputs[0]))
    paths, any_folder = collect_images(args.inputs)
    json_path = None if args.json_out in (None, "-") else Path(args.json_out)
    if json_path is not None:  # checked before any image is predicted
        from ..jsonfile import check_output_path, same_file

        for other in [*paths, *([args.detector] if args.detector.lower().endswith(".json") else [])]:
            if same_file(json_path, other):
                raise UsageError(f"--json {json_path} is the input {other}; it would be replaced "
                                 "(choose another name)")
        check_output_path(json_path, "--json")
    vis_dir = Path(args.save_vis) if args.save_vis else None
    vis_paths: dict[Path, Path] = {}
    if vis_dir is not None:
        vis_paths = vis_targets(vis_dir, paths, args.inputs)
        try:
            vis_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--save-vis {vis_dir}: cannot create the folder: {exc.strerror or exc}") from None
    unreadable = cheap_failures(paths)
    if len(unreadable) == len(paths):  # nothing to predict: said before loading any model
        for path, message in unreadable.items():
            print(f"{path}: error: {message}", file=sys.stderr)
        if args.json_out == "-":
            print("[]")
        elif json_path is not None:
            from ..jsonfile import write_text_atomic

            write_text_atomic(json_path, "[]")
        print(f"{len(paths)} of {len(paths)} image(s) failed", file=sys.stderr)
        return 1
    import cv2

    from ..detectors import image_id_from_file_name
    from ..io import load_image_with_notes
    from ..visualization.drawing import draw_poses

    est = _estimator(args)
    out = sys.stderr if args.json_out == "-" else sys.stdout
    results: list[dict] = []
    failed = 0
    items = paths
    if any_folder and not args.no_progress:
        from tqdm import tqdm

        items = tqdm(paths, desc="predict", unit="img", dynamic_ncols=True, file=sys.stderr)
    for index, path in enumerate(items, start=1):
        image_id = image_id_from_file_name(path)
        if path in unreadable:
            failed += 1
            _write(items, f"{path}: error: {unreadable[path]}", sys.stderr)
            continue
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
            target = vis_paths[path]
            if target.exists():  # appeared while this run was going: still never replaced
                target = vis_targets(vis_dir, [path], [])[path]
            if target.name != path.stem + ".jpg":
                _write(items, f"{path}: note: drawing written to {target} ({path.stem}.jpg is taken)", sys.stderr)
            if not _imwrite_new(cv2, target, cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                failed += 1
                _write(items, f"{path}: error: cannot write {target}", sys.stderr)
    if args.json_out == "-":
        print(json.dumps(results))
    elif json_path is not None:
        from ..jsonfile import write_text_atomic

        write_text_atomic(json_path, json.dumps(results))
    if failed:
        print(f"{failed} of {len(paths)} image(s) failed", file=sys.stderr)
        return 1
    return 0


def _estimator(args: argparse.Namespace):
    """The :class:`~hrgcnet.pipeline.PoseEstimator` the options ask for; its notes printed on stderr."""
    from ..pipeline import PoseEstimator

    detector_kwargs = {"weights": args.yolo_weights} if args.yolo_weights else None
    weights = None if args.weights in ("none", "None") else args.weights
    with warnings.catch_warnings():  # the fallback warning is printed below as a note
        warnings.simplefilter("ignore", UserWarning)
        est = PoseEstimator(args.model, weights=weights, device=args.device, detector=args.detector,
                            flip_test=not args.no_flip, input_hw=args.input_size, refine=args.refine,
                            detector_kwargs=detector_kwargs, backend=args.backend, precision=args.precision)
    for note in est.notes + ([est.backend_note] if est.backend_note else []):
        print(f"note: {note}", file=sys.stderr)
    return est


def video_target(save_vis: str, video: Path) -> Path:
    """The mp4 ``--save-vis`` names for ``video``: the path itself when it ends in ``.mp4``, else
    ``<folder>/<stem>.mp4`` (the first free ``<stem>_N.mp4`` when taken).

    Raises:
        UsageError: the target is the input video, or not an ``.mp4``, or its folder cannot be made.
    """
    from ..jsonfile import same_file
    from ..video import is_video_path

    target = Path(save_vis)
    if is_video_path(target):
        if target.suffix.lower() != ".mp4":
            raise UsageError(f"--save-vis {target}: annotated videos are written as .mp4 (H.264)")
    else:
        if target.exists() and not target.is_dir():
            raise UsageError(f"--save-vis {target} is neither a folder nor an .mp4 file name")
        name, i = video.stem + ".mp4", 1
        while (target / name).exists():
            name = f"{video.stem}_{i}.mp4"
            i += 1
        target = target / name
    if same_file(target, video):
        raise UsageError(f"--save-vis {target} is the input video; it would be replaced (choose another name)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--save-vis {target}: cannot create its folder: {exc.strerror or exc}") from None
    return target


def run_video(args: argparse.Namespace, path: Path) -> int:
    """``predict`` of one video: tracked, smoothed poses per frame; exit 1 when the video cannot be read."""
    from ..jsonfile import check_output_path, same_file, write_text_atomic
    from ..video import OneEuroParams, PoseTracker, annotate_video, probe

    if args.every < 1:
        raise UsageError("--every must be >= 1")
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError("--max-frames must be >= 1")
    if args.detector.lower().endswith(".json"):
        raise UsageError("--detector JSON boxes are looked up by image; for a video choose a detector "
                         "(auto, yolo, nanodet, ssd or full)")
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    json_path = None if args.json_out in (None, "-") else Path(args.json_out)
    if json_path is not None:
        if same_file(json_path, path):
            raise UsageError(f"--json {json_path} is the input {path}; it would be replaced (choose another name)")
        check_output_path(json_path, "--json")
    target = video_target(args.save_vis, path) if args.save_vis else None
    try:
        info = probe(path)
    except HRGCNetError as exc:
        print(f"{path}: error: {str(exc).removeprefix(f'{path}: ')}", file=sys.stderr)
        return 1
    est = _estimator(args)
    tracker = PoseTracker(est, every=args.every, smoothing=None if args.no_smooth else OneEuroParams())
    total = min(info.frames, args.max_frames or info.frames) or args.max_frames
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=total or None, desc=path.name, unit="frame", dynamic_ncols=True, file=sys.stderr)
    start = time.perf_counter()
    try:
        frames, notes = annotate_video(tracker, path, target, max_frames=args.max_frames, kpt_thr=args.kpt_thr,
                                       on_frame=(lambda fr: bar.update()) if bar is not None else None)
    except HRGCNetError as exc:
        print(f"{path}: error: {str(exc).removeprefix(f'{path}: ')}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    for note in notes[len(est.notes):]:
        print(f"{path}: note: {note}", file=sys.stderr)
    rows = [row for fr in frames for row in fr.to_coco_json()]
    for row in rows:
        row["file_name"] = str(path)
    tracks = len({row["track_id"] for row in rows})
    wall_s = time.perf_counter() - start
    summary = (f"{path}: {len(frames)} frame(s), {len(rows)} pose(s), {tracks} track(s) in {wall_s:.1f} s "
               f"({len(frames) / wall_s:.1f} frames/s)"
               + (f", drawn to {target}" if target is not None else ""))
    print(summary, file=sys.stderr if args.json_out == "-" else sys.stdout)
    if args.json_out == "-":
        print(json.dumps(rows))
    elif json_path is not None:
        write_text_atomic(json_path, json.dumps(rows))
    return 0


def _imwrite_new(cv2, target: Path, image) -> bool:
    """Encode ``image`` as JPEG into the new file ``target`` (never replacing a file); False on failure."""
    ok, data = cv2.imencode(".jpg", image)
    if not ok:
        return False
    try:
        with open(target, "xb") as f:
            f.write(data.tobytes())
    except OSError:
        return False
    return True


def _write(items, line: str, stream) -> None:
    """Print without breaking a tqdm bar."""
    writer = getattr(items, "write", None)
    if writer is not None:
        writer(line, file=stream)
    else:
        print(line, file=stream)
