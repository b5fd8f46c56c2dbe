"""The Video tab: poses on an uploaded clip, tracked and smoothed, drawn into a playable mp4.

One event (``/video``): the clip's first ``max frames`` frames go through a :class:`~hrgcnet.video.PoseTracker`
(the page's model, detector, input size and flip test; the detector every ``every`` frames, boxes from the
keypoints in between; One-Euro smoothing on request), each frame is drawn and written into an H.264 mp4 with the
clip's frame times (:class:`~hrgcnet.video.VideoWriter`), and the COCO-style rows of every frame (with ``frame``,
``time_s`` and ``track_id``) go into a JSON file. Both land in a fresh folder per request (``handlers.fresh_dir``).

Limits: ``VIDEO_MAX_FRAMES`` frames, and ``VIDEO_TIME_LIMIT_S`` seconds of wall clock: before each frame, a frame
that would end past the limit at the pace so far is not started; the frames done are written and the status says
how far it got. The network is taken frame by frame (``loaded.lock``), so image requests and the live webcam are
served between two frames of a video rather than after it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import gradio as gr

from hrgcnet.visualization import drawing as viz
from hrgcnet.errors import UsageError
from hrgcnet.models import get_spec
from hrgcnet.video import FrameResult, OneEuroParams, PoseTracker, VideoWriter, probe, read_frames

from . import state
from .handlers import fresh_dir, user_errors
from .state import MODELS

#: Range of the "detector every n frames" slider.
MAX_EVERY = 10

INTRO = (f"Upload a clip (mp4, mov, webm, mkv or avi, up to {state.MAX_UPLOAD_BYTES // 2**20} MB, frames up to 4K) "
         "and press **Estimate poses on the video**. It runs with the model, person detector, input size, flip test "
         "and thresholds set above ('my boxes' means the whole frame here); persons below the box score threshold are "
         "neither tracked nor drawn. Persons keep their **track id** (`#id` on the boxes, `track_id` in the JSON) "
         "from frame to frame; between detector frames their boxes come from their keypoints. At most the first "
         f"{state.VIDEO_MAX_FRAMES} frames and {state.VIDEO_TIME_LIMIT_S:g} s per video: past the time limit it stops "
         "and returns the frames done.")


def _range(value: float, name: str, low: int, high: int) -> int:
    number = int(round(float(value)))
    if not low <= number <= high:
        raise UsageError(f"{name} must be {low}..{high}, got {value}")
    return number


@state.on_gpu(duration=state.VIDEO_TIME_LIMIT_S + 30)
@user_errors
def video(path: str | None, model: str, input_size: str, detector: str, flip_test: bool, kpt_thr: float,
          box_thr: float, max_frames: float = state.VIDEO_DEFAULT_FRAMES, every: float = 1, smooth: bool = True,
          progress: gr.Progress = gr.Progress()) -> tuple[str, str, str]:
    """Poses on the first ``max_frames`` frames of the clip ``path``, within ``VIDEO_TIME_LIMIT_S``.

    Returns:
        the annotated mp4 (frame for frame: the input's frame count, size and frame times, up to where it stopped),
        the per-frame JSON (COCO keypoint rows of the persons at or above ``box_thr``, each with ``frame``,
        ``time_s`` and ``track_id``), and the status (Markdown): frames done, frames/s, tracks, notes.
    """
    if path is None:
        raise UsageError("no video: upload a clip (mp4, mov, webm, mkv or avi) first")
    if model not in state.enabled_models():
        raise UsageError(f"model {model!r} is not available here; choose one of {', '.join(state.enabled_models())}")
    max_frames = _range(max_frames, "max frames", 1, state.VIDEO_MAX_FRAMES)
    every = _range(every, "detector every n frames", 1, MAX_EVERY)
    name = Path(path).name
    info = probe(path, name=name)
    det = MODELS.detector("full" if detector == "boxes" else detector)
    est, loaded = MODELS.estimator(model, state.ShownOnly(det, float(box_thr)), input_size, bool(flip_test))
    tracker = PoseTracker(est, every=every, smoothing=OneEuroParams() if smooth else None)
    declared = info.frames or None
    folder = fresh_dir()
    stem = f"hrgcnet_{model}_{Path(name).stem or 'video'}"
    video_path, json_path = folder / f"{stem}_poses.mp4", folder / f"{stem}_poses.json"

    notes: list[str] = []
    rows: list[dict] = []
    tracks: set[int] = set()
    kinds: set[str] = set()
    done = detected = most = 0
    stopped = truncated = False
    writer = VideoWriter(video_path, fps=info.fps)
    start = time.perf_counter()
    progress((0, min(declared or max_frames, max_frames)), desc="frames", unit="frames")
    try:
        # one frame past the limit is decoded (not processed) to tell a longer clip from one of exactly max_frames
        for frame in read_frames(path, max_frames=max_frames + 1, notes=notes, name=name):
            elapsed = time.perf_counter() - start
            if frame.index == max_frames:
                truncated = True
                break
            if done and elapsed + elapsed / done > state.VIDEO_TIME_LIMIT_S:
                stopped = True
                break
            with loaded.lock:
                result, ran = tracker(frame.image, frame.time_s)
            writer.write(viz.draw_poses(frame.image, result, kpt_thr=float(kpt_thr)), frame.time_s)
            rows.extend(FrameResult(frame.index, frame.time_s, result, ran).to_coco_json())
            tracks.update(int(i) for i in result.track_ids)
            for note in result.notes:  # the first of each kind ("12 persons found; ..." and "13 persons ..." are one)
                kind = re.sub(r"\d+", "#", note)
                if kind not in kinds and not note.startswith("untrained weights"):
                    kinds.add(kind)
                    notes.append(f"frame {frame.index}: {note}")
            done, detected, most = done + 1, detected + ran, max(most, len(result))
            progress((done, min(declared or max_frames, max_frames)), desc="frames", unit="frames")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    elapsed = time.perf_counter() - start
    json_path.write_text(json.dumps(rows, indent=1))

    total = f"{declared}" if declared else "?"
    limits = []  # also shown as warnings: the result is not the whole clip
    if stopped:
        limits.append(f"stopped after {done} of {total} frames ({elapsed:.0f} s): the next frame would have ended "
                      f"past the time limit of {state.VIDEO_TIME_LIMIT_S:g} s per video; the video and JSON hold the "
                      "frames done (a smaller input size, no flip test or a larger 'detector every' is faster)")
    if truncated:
        limits.append((f"only the first {done} of {declared} frames were processed" if declared else
                       f"only the first {done} frames were processed (the clip has more)")
                      + f": the max-frames setting (up to {state.VIDEO_MAX_FRAMES} here)")
    for note in limits:
        gr.Warning(note)
    if detector == "boxes":
        notes.append("'my boxes' are for the image: the whole frame is one person here")
    label = get_spec(model).label
    ids = ", ".join(f"#{i}" for i in sorted(tracks)[:20]) + (", ..." if len(tracks) > 20 else "")
    lines = [f"⚠️ **{label} runs with untrained weights: keypoints are noise.**"] if loaded.untrained else []
    lines += [
        f"**{done} of {total} frames** processed in {elapsed:.1f} s: **{done / max(elapsed, 1e-9):.2f} frames/s** "
        f"(the clip: {info.width}x{info.height}, {info.fps:.3g} fps, {info.duration_s:.1f} s).",
        f"**{len(tracks)} track{'' if len(tracks) == 1 else 's'}**{f' ({ids})' if tracks else ''}; at most {most} "
        f"person{'' if most == 1 else 's'} in a frame (box score ≥ {float(box_thr):.2f}); detector on {detected} of "
        f"{done} frames; keypoints {'smoothed (One-Euro)' if smooth else 'not smoothed'}.",
        f"{label}, {input_size}, flip test {'on' if flip_test else 'off'}, detector {state.detector_text(det)}, "
        f"network on {est.backend}.",
    ]
    bullets = "\n".join(f"- {note}" for note in limits + notes)
    return str(video_path), str(json_path), "\n\n".join(lines + ([bullets] if bullets else []))
