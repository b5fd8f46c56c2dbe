"""Poses on video: the image :class:`~hrgcnet.pipeline.PoseEstimator` frame by frame, with the detector every
``every`` frames (keypoint boxes in between), stable track ids and One-Euro smoothing per keypoint."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from ..detectors.base import box_iou
from ..pipeline import PoseEstimator, PoseResult
from .io import Frame, read_frames
from .smoothing import OneEuroFilter, OneEuroParams
from .tracking import IoUTracker, boxes_from_keypoints


@dataclass
class FrameResult:
    """The poses of one video frame (``result.track_ids`` set) and whether the detector ran on it."""

    index: int
    time_s: float
    result: PoseResult
    detected: bool

    def to_coco_json(self, image_id: int | None = None) -> list[dict]:
        """COCO keypoint results of this frame, each with ``frame``, ``time_s`` and ``track_id``;
        ``image_id`` defaults to the frame index."""
        rows = self.result.to_coco_json(self.index if image_id is None else image_id)
        for row in rows:
            row["frame"], row["time_s"] = self.index, round(self.time_s, 4)
        return rows


class PoseTracker:
    """Stateful per-frame pose estimation for a video or a webcam stream.

    Each frame's persons are the detector's plus, for a confidently posed person of the previous frame whom the
    detector does not find again (its last box overlaps no kept box by ``iou_threshold``: a missed detection), a
    box around its keypoints, for at most ``carry`` detector runs in a row; on the frames between two detector runs, every
    person's box comes from its keypoints. Persons then get their track ids (:class:`IoUTracker`) and smoothed
    keypoints.

    Args:
        estimator: the image estimator (its detector, model, backend and flip test are used as they are).
        every: run the detector on every ``every``-th frame (and whenever no person is tracked).
        smoothing: One-Euro parameters, or None for raw keypoints (evaluation).
        iou_threshold: least box IoU for a person to continue a track.
        max_missed: frames a track id waits for its person to come back.
        carry: detector runs in a row a missed person is carried by its keypoints (0: never).
        carry_score: least mean keypoint score of a person to be carried.
    """

    def __init__(self, estimator: PoseEstimator, every: int = 1, smoothing: OneEuroParams | None = OneEuroParams(),
                 iou_threshold: float = 0.3, max_missed: int = 10, carry: int = 2, carry_score: float = 0.3) -> None:
        from ..errors import UsageError

        if int(every) < 1:
            raise UsageError(f"every must be >= 1 (detector on every n-th frame), got {every}")
        self.estimator = estimator
        self.every = int(every)
        self.smoothing = smoothing
        self.iou_threshold = iou_threshold
        self.max_missed = int(max_missed)
        self.carry, self.carry_score = int(carry), float(carry_score)
        self.reset()

    def reset(self) -> None:
        """Forget every person (a new clip or a restarted stream)."""
        self.tracker = IoUTracker(iou_threshold=self.iou_threshold, max_missed=self.max_missed)
        self._filters: dict[int, OneEuroFilter] = {}
        self._last: PoseResult | None = None  # unsmoothed: the next frame's boxes come from it
        self._undetected: dict[int, int] = {}  # track id -> frames in a row the detector has not found it
        self.frames = 0

    def __call__(self, image: np.ndarray, time_s: float, **kwargs) -> tuple[PoseResult, bool]:
        """Poses of the next frame (``(H, W, 3)`` RGB) at ``time_s`` seconds, and whether the detector ran.
        ``kwargs`` go to the estimator (e.g. ``return_heatmaps``)."""
        last = self._last if self._last is not None and len(self._last) else None
        detect = last is None or self.frames % self.every == 0
        carried = boxes_from_keypoints(last.keypoints, last.boxes) if last is not None else np.zeros((0, 4))
        carried_ids = last.track_ids if last is not None else np.zeros(0, np.int64)
        carried_scores = last.box_scores if last is not None else np.zeros(0)
        if detect:
            det, detect_ms = self.estimator.detect(image)
            boxes, scores = det.boxes.reshape(-1, 4).astype(np.float64), det.box_scores.reshape(-1).astype(np.float64)
            given_ids = np.zeros(len(boxes), np.int64)
            if last is not None:  # persons the detector missed this time, carried by their keypoints
                sure = last.keypoints[..., 2].mean(axis=1) >= self.carry_score
                for n in np.argsort(-carried_scores):
                    previous = last.boxes[n:n + 1].astype(np.float64)  # the same kind of box as a detection
                    if (sure[n] and self._undetected.get(int(carried_ids[n]), 0) < self.carry
                            and (not len(boxes) or box_iou(previous, boxes).max() < self.iou_threshold)):
                        boxes = np.concatenate([boxes, carried[n:n + 1]])
                        scores = np.append(scores, carried_scores[n])
                        given_ids = np.append(given_ids, carried_ids[n])
            result = self.estimator(image, boxes=boxes, box_scores=scores, **kwargs)
            result.timings["detect_ms"], result.detected = detect_ms, len(det)
            result.notes.extend(det.notes)
        else:
            boxes, given_ids = carried, carried_ids
            result = self.estimator(image, boxes=carried, box_scores=carried_scores, **kwargs)
        self.frames += 1
        # the estimator returns the boxes it was given (by score, duplicates dropped): carried ones keep their ids
        known = np.zeros(len(result), np.int64)
        if len(result) and len(boxes):
            iou = box_iou(result.boxes.astype(np.float64), boxes)
            known = np.where(iou.max(axis=1) >= 0.999, given_ids[iou.argmax(axis=1)], 0)
        result.track_ids = self.tracker.update(result.boxes, known)
        if detect:  # which tracks the detector found this time
            found = np.zeros(len(result), bool)
            if len(result) and len(det):
                found = box_iou(result.boxes.astype(np.float64), det.boxes).max(axis=1) >= 0.999
            self._undetected = {int(i): 0 if f else self._undetected.get(int(i), 0) + 1
                                for i, f in zip(result.track_ids, found)}
        self._last = result
        if self.smoothing is not None:
            result = self._smooth(result, time_s)
        return result, detect

    def _smooth(self, result: PoseResult, time_s: float) -> PoseResult:
        live = {t.track_id for t in self.tracker.tracks}
        self._filters = {i: f for i, f in self._filters.items() if i in live}
        keypoints = result.keypoints.copy()
        for n, track_id in enumerate(result.track_ids):
            filt = self._filters.setdefault(int(track_id), OneEuroFilter(self.smoothing))
            height = float(result.boxes[n, 3] - result.boxes[n, 1])
            keypoints[n, :, :2] = filt(keypoints[n, :, :2], time_s, size=height)
        h, w = result.image_hw
        keypoints[..., 0] = np.clip(keypoints[..., 0], 0, w - 1)
        keypoints[..., 1] = np.clip(keypoints[..., 1], 0, h - 1)
        smoothed = result.select(slice(None))
        smoothed.keypoints = keypoints
        return smoothed

    def run(self, frames: Iterable[Frame], **kwargs) -> Iterator[FrameResult]:
        """:class:`FrameResult` of each frame, in order (the tracker starts afresh)."""
        self.reset()
        for frame in frames:
            result, detected = self(frame.image, frame.time_s, **kwargs)
            yield FrameResult(frame.index, frame.time_s, result, detected)


def annotate_video(tracker: PoseTracker, source: str | os.PathLike, output: str | os.PathLike | None = None,
                   max_frames: int | None = None, kpt_thr: float = 0.3,
                   on_frame: Callable[[FrameResult], None] | None = None) -> tuple[list[FrameResult], list[str]]:
    """Poses of every frame of ``source`` (up to ``max_frames``), drawn into the H.264 mp4 ``output`` (frame
    for frame, same size and times) when given; returns the frame results and the notes (decoding stopped
    early, the estimator's notes once each). ``on_frame`` is called after each frame (progress).

    Raises:
        VideoError: unreadable input or unwritable output (a partial output file is removed).
    """
    from ..visualization.drawing import draw_poses
    from .io import VideoWriter, probe

    info = probe(source)
    notes: list[str] = []
    results: list[FrameResult] = []
    writer = None if output is None else VideoWriter(output, fps=info.fps)
    tracker.reset()
    try:
        for frame in read_frames(source, max_frames=max_frames, notes=notes):
            result, detected = tracker(frame.image, frame.time_s)
            fr = FrameResult(frame.index, frame.time_s, result, detected)
            results.append(fr)
            notes.extend(n for n in result.notes if n not in notes)
            if writer is not None:
                writer.write(draw_poses(frame.image, result, kpt_thr=kpt_thr), frame.time_s)
            if on_frame is not None:
                on_frame(fr)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return results, notes
