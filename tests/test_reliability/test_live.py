"""The live-webcam handler under bad frames and broken sessions: errors as messages, locks always freed,
per-session bookkeeping bounded."""

from __future__ import annotations

import numpy as np
import pytest

from bad_inputs import bad_arrays

gr = pytest.importorskip("gradio")

ARRAYS = bad_arrays()
SETTINGS = dict(model="hrgcnet-w32", detector="full", input_size="128x96", flip_test=False, kpt_thr=0.3, box_thr=0.0)


def frame() -> np.ndarray:
    return np.full((120, 90, 3), 120, np.uint8)


@pytest.mark.parametrize("kind", ["array_nan", "array_5_channels", "array_object", "array_empty"])
def test_bad_frames_are_messages_and_free_the_session(kind):
    from app.streaming import _session_lock

    array, outcome = ARRAYS[kind]
    key = f"bad-{kind}"
    with pytest.raises(gr.Error) as info:
        _live(array, key)  # the handler, wrapped by user_errors
    assert outcome.message in str(info.value.message).lower()
    assert not _session_lock(key).locked()
    overlay, status, state = _live_ok(frame(), key)
    assert overlay is not None and state.processed == 1


def _live(array, key):
    from app import handlers

    class Request:
        session_hash = key

    return handlers.live(array, None, *SETTINGS.values(), request=Request())


def _live_ok(array, key):
    from app.streaming import process_frame

    return process_frame(array, None, *SETTINGS.values(), session_key=key)


def test_a_frame_that_fails_inside_the_network_frees_every_lock(monkeypatch):
    from app import state
    from app.streaming import _session_lock, process_frame

    real = state.MODELS.estimator

    def broken(*args, **kwargs):
        est, loaded = real(*args, **kwargs)

        class Boom:  # the estimator, called directly or by the live tracker (detect, then the network)
            def __call__(self, *a, **k):
                raise RuntimeError("client went away mid-frame")

            detect = __call__

        return Boom(), loaded

    monkeypatch.setattr(state.MODELS, "estimator", broken)
    with pytest.raises(RuntimeError):
        process_frame(frame(), None, *SETTINGS.values(), session_key="dies")
    assert not _session_lock("dies").locked()
    assert not state.MODELS.model("hrgcnet-w32").lock.locked()


def test_session_bookkeeping_is_bounded():
    from app import streaming

    for i in range(streaming.MAX_SESSIONS + 50):
        streaming._session_lock(f"gone-{i}")
    assert len(streaming._session_locks) <= streaming.MAX_SESSIONS


def test_frames_are_skipped_not_queued(monkeypatch):
    """A frame that arrives sooner than 1 / LIVE_MAX_FPS after the last one is skipped at once."""
    from app import streaming
    from app.streaming import process_frame

    monkeypatch.setattr(streaming, "LIVE_MAX_FPS", 0.1)  # 10 s between processed frames: timing-independent

    overlay, _, live = process_frame(frame(), None, *SETTINGS.values(), session_key="fast")
    assert overlay is not None
    overlay2, _, live = process_frame(frame(), live, *SETTINGS.values(), session_key="fast")
    assert overlay2 is None and live.skipped == 1 and live.processed == 1
