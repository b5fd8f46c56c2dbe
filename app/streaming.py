"""Live webcam: one pose overlay per frame, a few frames per second on a CPU.

Frames are skipped, never queued: a frame is dropped when the previous one of the same session is still
being processed, when the shared network is busy with another request, or when it comes sooner than
``1 / LIVE_MAX_FPS`` after the start of the last processed frame. The browser sends a frame every
``STREAM_EVERY_S`` (0.066 s: about 15 frames/s at most), and Gradio's webcam sends
no new frame while an event is pending. The achieved FPS is measured over the last ``FPS_WINDOW`` processed
frames. A frame that comes more than ``RESTART_GAP_S`` after the previous one was done with starts a new
stream: the window and the counters start again, so a paused and restarted webcam does not count the pause
as a low FPS.

With "smooth + track" on (``LiveState.track``, the default), frames go through a per-session
:class:`~hrgcnet.video.PoseTracker` (the detector on every frame, keeping the persons at or above the box threshold;
persons it misses carried by their keypoints; One-Euro smoothing over the frames' arrival times): the boxes are
labelled with track ids. A session's tracker starts afresh with its stream (the first processed frame, and after a
pause of ``RESTART_GAP_S``) and whenever the model, detector, input size or flip test changes; it is dropped when
tracking is turned off.

Per-session state is a small :class:`LiveState` (a bounded deque of times and counters), carried by
``gr.State``; the trackers (a few boxes and filters each) are kept here, at most ``MAX_SESSIONS``, and hold no
network between frames: memory does not grow with the number of frames.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from hrgcnet.visualization import drawing as viz
from hrgcnet.io import load_image
from hrgcnet.models import get_spec
from hrgcnet.video import OneEuroParams, PoseTracker

from . import state
from .state import MODELS, env_float

#: Processed frames the achieved FPS is measured over.
FPS_WINDOW = 10
#: Frames are shrunk to this longer side before detection (speed on CPU).
LIVE_MAX_SIDE = 640
#: At most this many frames per second are processed per session (any positive number): a guard against clients
#: that send faster than ``1 / STREAM_EVERY_S``, above it so that the frames of a well-behaved browser, which
#: arrive with some jitter, are not skipped (at 10 with frames every 0.1 s, a third of them were, measured).
LIVE_MAX_FPS = env_float("HRGCNET_APP_LIVE_MAX_FPS", 20.0, positive=True)
#: Seconds between two frames sent by the browser (``stream_every`` of the webcam event): about 15 frames/s at most,
#: fewer when the frames take longer (the browser sends no frame while one is pending).
STREAM_EVERY_S = env_float("HRGCNET_APP_STREAM_EVERY_S", 0.066, positive=True)
#: A frame this many seconds after the previous one (processed or skipped) starts the counters again.
RESTART_GAP_S = 2.0
#: Sessions whose in-flight lock and tracker are remembered (least recently used forgotten).
MAX_SESSIONS = 256


@dataclass
class LiveState:
    """One session's live-webcam state: times of the last processed frames and counters."""

    done_times: deque = field(default_factory=lambda: deque(maxlen=FPS_WINDOW))
    processed: int = 0
    skipped: int = 0
    last_ms: float = 0.0
    last_start: float = float("-inf")  # perf_counter() when the last processed frame started
    last_seen: float = float("-inf")  # perf_counter() when the last frame was done with (processed or skipped)
    track: bool = True  # smooth + track (the Live tab's checkbox; kept when the counters start again)

    def fps(self) -> float:
        """Processed frames per second over the window (0 until two frames are done)."""
        if len(self.done_times) < 2:
            return 0.0
        span = self.done_times[-1] - self.done_times[0]
        return (len(self.done_times) - 1) / span if span > 0 else 0.0


_session_locks: OrderedDict[str, threading.Lock] = OrderedDict()
#: session key -> (the settings it tracks with, its tracker)
_trackers: OrderedDict[str, tuple[tuple, PoseTracker]] = OrderedDict()
_registry_lock = threading.Lock()


def _session_lock(key: str) -> threading.Lock:
    with _registry_lock:
        lock = _session_locks.pop(key, None) or threading.Lock()
        _session_locks[key] = lock
        while len(_session_locks) > MAX_SESSIONS:
            _session_locks.popitem(last=False)
        return lock


def _session_tracker(key: str, settings: tuple, fresh: bool) -> PoseTracker:
    """The tracker of session ``key``: a new one for a new stream (``fresh``) or new ``settings``."""
    with _registry_lock:
        entry = _trackers.pop(key, None)
        if fresh or entry is None or entry[0] != settings:
            entry = (settings, PoseTracker(None, every=1, smoothing=OneEuroParams()))
        _trackers[key] = entry
        while len(_trackers) > MAX_SESSIONS:
            _trackers.popitem(last=False)
        return entry[1]


def _forget_tracker(key: str) -> None:
    with _registry_lock:
        _trackers.pop(key, None)


def set_tracking(live: LiveState | None, on: bool) -> LiveState:
    """The "smooth + track" checkbox: set on this session's state (the running stream reads it at its next frame)."""
    live = live if live is not None else LiveState()
    live.track = bool(on)
    return live


def status_text(live: LiveState, model: str, note: str = "") -> str:
    text = (f"**{live.fps():.1f} FPS achieved** (last {min(live.processed, FPS_WINDOW)} processed frames) · "
            f"{live.processed} processed, {live.skipped} skipped · last frame {live.last_ms:.0f} ms · "
            f"{get_spec(model).label}")
    return text + (f" · {note}" if note else "")


def process_frame(frame: np.ndarray | None, live: LiveState | None, model: str, detector: str, input_size: str,
                  flip_test: bool, kpt_thr: float, box_thr: float, session_key: str = "local"
                  ) -> tuple[np.ndarray | None, str, LiveState]:
    """Pose overlay of one webcam frame, or None when the frame is skipped.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB (or None before the camera starts).
        live: this session's state (None at the first frame).
        detector: ``auto``, ``yolo``, ``nanodet``, ``ssd`` or ``full`` (``boxes`` means ``full`` here).
        session_key: identifies the session for frame skipping (Gradio's session hash).

    Returns:
        ``(overlay or None, status markdown, state)``.
    """
    live = live if live is not None else LiveState()
    if frame is None:
        return None, "waiting for the camera", live
    start = time.perf_counter()
    if live.last_seen != float("-inf") and start - live.last_seen > RESTART_GAP_S:
        live = LiveState(track=live.track)  # the webcam was paused (or the stream restarted): new window and counters
    live.last_seen = start  # a skipped frame is done with at once; a processed one when it ends (below)
    lock = _session_lock(session_key)
    if start - live.last_start < 1.0 / LIVE_MAX_FPS or not lock.acquire(blocking=False):
        live.skipped += 1
        return None, status_text(live, model), live
    try:
        image = load_image(frame)
        scale = min(1.0, LIVE_MAX_SIDE / max(image.shape[:2]))
        if scale < 1.0:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        det = MODELS.detector("full" if detector == "boxes" else detector)
        if live.track:  # the tracker follows the persons drawn only
            det = state.ShownOnly(det, float(box_thr))
        est, loaded = MODELS.estimator(model, det, input_size, bool(flip_test))
        tracker = None
        if live.track:
            tracker = _session_tracker(session_key, (model, detector, input_size, bool(flip_test)),
                                       fresh=live.processed == 0)
        else:
            _forget_tracker(session_key)
        if not loaded.lock.acquire(blocking=False):  # the network serves another request: drop this frame
            live.skipped += 1
            return None, status_text(live, model, "network busy"), live
        try:
            if tracker is None:
                result = est(image)
            else:
                tracker.estimator = est
                try:
                    result = tracker(image, start)[0]
                finally:
                    tracker.estimator = None  # no network kept between frames: the model cache may drop it
        finally:
            loaded.lock.release()
        result = result.select(result.box_scores >= float(box_thr))
        overlay = viz.draw_poses(image, result, kpt_thr=float(kpt_thr))
        live.processed += 1
        live.last_start = start
        live.done_times.append(time.perf_counter())
        live.last_ms = (live.done_times[-1] - start) * 1000
        live.last_seen = live.done_times[-1]
    finally:
        lock.release()
    notes = ["untrained weights: keypoints are noise"] if loaded.untrained else []
    if tracker is not None:
        notes.append(f"smoothed + tracked: {len(result)} track{'' if len(result) == 1 else 's'} shown")
    return overlay, status_text(live, model, " · ".join(notes)), live
