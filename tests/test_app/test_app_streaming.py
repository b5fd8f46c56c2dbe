"""The live-webcam function on a sequence of frames: state carried, frames skipped (never queued),
FPS reported, bounded memory."""

from __future__ import annotations

import pickle
import time
import tracemalloc
from collections import deque

import numpy as np
import pytest

from app import streaming
from app.state import MODELS
from app.streaming import FPS_WINDOW, LiveState, process_frame

SIZE = "64x64"  # a small crop (multiples of 32): fast


def frames(n: int, seed: int = 0):
    """``n`` webcam-like frames ``(240, 320, 3)`` uint8 with a bright moving block."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        frame = rng.integers(0, 60, size=(240, 320, 3), dtype=np.uint8)
        x = 20 + 10 * i % 200
        frame[40:200, x:x + 80] = 200
        yield frame


@pytest.fixture(autouse=True)
def fast_cap(monkeypatch):
    monkeypatch.setattr(streaming, "LIVE_MAX_FPS", float("inf"))  # no rate cap unless a test sets one


def run(frame, live, key="test", **kw):
    args = dict(model="hrgcnet-w32", detector="full", input_size=SIZE, flip_test=False, kpt_thr=0.0, box_thr=0.5)
    args.update(kw)
    return process_frame(frame, live, session_key=key, **args)


def test_state_is_carried_and_fps_reported():
    live = None
    outputs = []
    for frame in frames(4):
        overlay, status, live = run(frame, live)
        outputs.append(overlay)
    assert all(o is not None and o.shape == (240, 320, 3) and o.dtype == np.uint8 for o in outputs)
    assert live.processed == 4 and live.skipped == 0
    assert live.fps() > 0
    assert f"{live.fps():.1f} FPS achieved" in status and "4 processed, 0 skipped" in status
    from hrgcnet.models.weights import default_weights_path

    assert ("untrained weights" in status) == (default_weights_path("hrgcnet-w32") is None)


def test_frames_over_the_rate_cap_are_skipped(monkeypatch):
    monkeypatch.setattr(streaming, "LIVE_MAX_FPS", 0.5)  # one frame per 2 s
    it = frames(3)
    first, _, live = run(next(it), None, key="cap")
    second, status, live = run(next(it), live, key="cap")  # right after: skipped, not queued
    assert first is not None and second is None
    assert (live.processed, live.skipped) == (1, 1) and "1 skipped" in status
    live.last_start -= 2.5  # as if 2.5 s had passed
    third, _, live = run(next(it), live, key="cap")
    assert third is not None and live.processed == 2


def test_frames_are_skipped_while_busy():
    frame = next(frames(1))
    lock = streaming._session_lock("busy")
    with lock:  # a frame of this session is still being processed
        overlay, _, live = run(frame, None, key="busy")
    assert overlay is None and live.skipped == 1
    loaded = MODELS.model("hrgcnet-w32")
    with loaded.lock:  # the shared network serves another request
        overlay, status, live = run(frame, live, key="busy")
    assert overlay is None and live.skipped == 2 and "network busy" in status
    overlay, _, live = run(frame, live, key="busy")
    assert overlay is not None and live.processed == 1


def test_no_frame_means_no_work():
    overlay, status, live = run(None, None)
    assert overlay is None and live.processed == live.skipped == 0 and "waiting" in status


def test_memory_does_not_grow_with_frames(monkeypatch):
    live = None
    for frame in frames(3, seed=1):  # warm-up: model, detector, allocator
        _, _, live = run(frame, live, key="memory")
    state_size = len(pickle.dumps(live))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for frame in frames(8, seed=2):
            _, _, live = run(frame, live, key="memory")
        monkeypatch.setattr(streaming, "LIVE_MAX_FPS", 0.001)
        for frame in frames(200, seed=3):  # many skipped frames
            _, _, live = run(frame, live, key="memory")
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert growth < 2 * 2**20, f"Python memory grew by {growth / 2**20:.1f} MB over 208 frames"
    assert len(live.done_times) == FPS_WINDOW and live.processed == 11 and live.skipped == 200
    assert len(pickle.dumps(live)) <= state_size + 64  # counters only; the deque is bounded


def test_session_locks_are_bounded(monkeypatch):
    monkeypatch.setattr(streaming, "MAX_SESSIONS", 8)
    for i in range(50):
        streaming._session_lock(f"s{i}")
    assert len(streaming._session_locks) == 8


def test_fps_of_the_window():
    live = LiveState()
    assert live.fps() == 0.0
    t0 = time.perf_counter()
    for i in range(FPS_WINDOW + 5):
        live.done_times.append(t0 + 0.25 * i)
    assert live.fps() == pytest.approx(4.0)


def test_a_paused_stream_starts_its_fps_window_and_counters_again():
    """A webcam paused and restarted keeps its ``gr.State``: the pause must not count as a slow frame."""
    live = None
    for frame in frames(3):
        _, _, live = run(frame, live, key="pause")
    assert live.processed == 3 and len(live.done_times) == 3
    # as if the last frame had been done with 5 s ago
    live.done_times = deque((t - 5.0 for t in live.done_times), maxlen=FPS_WINDOW)
    live.last_seen -= 5.0
    live.last_start -= 5.0
    overlay, status, live = run(next(frames(1, seed=4)), live, key="pause")
    assert overlay is not None and (live.processed, live.skipped) == (1, 0) and len(live.done_times) == 1
    assert "1 processed, 0 skipped" in status
    _, status, live = run(next(frames(1, seed=5)), live, key="pause")  # the next frame, right away
    assert live.processed == 2 and len(live.done_times) == 2  # the FPS window holds no time from before the pause
    assert live.fps() == pytest.approx(1.0 / (live.done_times[1] - live.done_times[0]))


def test_a_slow_frame_is_not_a_pause():
    """The gap is counted from the end of the previous frame, so a frame that took longer than the gap does not
    start the counters again."""
    live = None
    for frame in frames(2):
        _, _, live = run(frame, live, key="slow")
    live.last_start -= 10.0  # its start long ago, its end just now: a 10 s frame
    _, _, live = run(next(frames(1, seed=6)), live, key="slow")
    assert live.processed == 3
