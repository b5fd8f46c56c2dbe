"""Frames/s and jitter of video processing on clips with known motion (docs/video.md).

Clips: a 50-frame, 25 fps pan and zoom (:mod:`hrgcnet.video.synthetic`) across dev.json photos with one
person and with several. For each model input size: frames/s of :class:`hrgcnet.video.PoseTracker` (detector
on every frame, flip test, the default backend), counted over the whole clip with decoding excluded; and the
jitter (mean frame-to-frame movement of keypoints mapped back to the photo, in photo pixels) of the tracks
present in every frame, raw and One-Euro smoothed. Run it on a quiet machine:

    python scripts/video_numbers.py --out docs/video/video_numbers.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from hrgcnet.io import load_image
from hrgcnet.pipeline import PoseEstimator
from hrgcnet.video import OneEuroParams, PoseTracker, read_frames
from hrgcnet.video.synthetic import jitter, pan_zoom_transforms, render_clip

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "coco"
CLIPS = {"one person": 109313, "two persons": 491008, "five persons": 360960}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--sizes", default="128x96,256x192")
    parser.add_argument("--model", default="hrgcnet-w32")
    args = parser.parse_args()
    dev = json.loads((DATA / "dev.json").read_text())
    names = {i["id"]: i["file_name"] for i in dev["images"]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, image_id in CLIPS.items():
            image = load_image(DATA / "images" / names[image_id])
            transforms = pan_zoom_transforms(image.shape[:2], args.frames)
            path = Path(tmp) / f"{image_id}.mp4"
            render_clip(image, transforms, path)
            frames = list(read_frames(path))
            for size in args.sizes.split(","):
                est = PoseEstimator(args.model, detector="nanodet", input_hw=size)
                est(frames[0].image)  # first use: export/compile outside the timing
                runs, fps = {}, {}
                for name, smoothing in (("raw", None), ("smooth", OneEuroParams())):
                    tracker = PoseTracker(est, smoothing=smoothing)
                    t0 = time.perf_counter()
                    runs[name] = [tracker(f.image, f.time_s)[0] for f in frames]
                    fps[name] = len(frames) / (time.perf_counter() - t0)
                jit = {name: [] for name in runs}
                for track_id in runs["raw"][0].track_ids:
                    where = {n: [np.flatnonzero(r.track_ids == track_id) for r in res] for n, res in runs.items()}
                    if all(len(i) == 1 for w in where.values() for i in w):
                        for n, res in runs.items():
                            track = np.stack([r.keypoints[i[0], :, :2] for r, i in zip(res, where[n])])
                            jit[n].append(jitter(track, transforms))
                row = {"clip": label, "image_id": image_id, "size_hw": f"{image.shape[0]}x{image.shape[1]}",
                       "input": size, "backend": est.backend, "frames": len(frames),
                       "persons_per_frame": round(float(np.mean([len(r) for r in runs["raw"]])), 2),
                       "frames_per_s": round(fps["raw"], 2), "frames_per_s_smoothed": round(fps["smooth"], 2),
                       "tracks_whole_clip": len(jit["raw"]),
                       "jitter_raw_px": round(float(np.mean(jit["raw"])), 2) if jit["raw"] else None,
                       "jitter_smooth_px": round(float(np.mean(jit["smooth"])), 2) if jit["smooth"] else None}
                print(json.dumps(row), flush=True)
                rows.append(row)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else ""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    result = {"command": "python scripts/video_numbers.py", "cpu": cpu,
              "flags": [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in flags],
              "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
