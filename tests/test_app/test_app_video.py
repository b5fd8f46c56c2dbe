"""The Video tab (``app.video``, ``/video``) and tracking in the live webcam (``app.streaming``).

Clips are made here from a real photo (``assets/three_people.jpg`` at half size, 556x192) by a slow pan and zoom
(:mod:`hrgcnet.video.synthetic`): 12 frames at 10 fps, small enough for a busy 2-core CPU. Most runs use the
whole-image detector at 128x96 without the flip test (about 0.2 s a frame); one API run uses the default detector.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import pytest

from app import handlers, state, streaming, video
from hrgcnet.io import load_image
from hrgcnet.video import probe, read_frames
from hrgcnet.video.synthetic import pan_zoom_transforms, render_clip

ASSETS = Path(__file__).resolve().parents[2] / "assets"
FRAMES, FPS = 12, 10
#: the page's settings, fast: model, input size, detector, flip test, keypoint and box thresholds
FAST = ("hrgcnet-w32", "128x96", "full", False, 0.3, 0.5)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    photo = load_image(ASSETS / "three_people.jpg")
    photo = cv2.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("clips") / "three people.mp4"
    render_clip(photo, pan_zoom_transforms(photo.shape[:2], FRAMES), path, fps=FPS)
    return path


def frame_times(path) -> list[float]:
    return [round(f.time_s, 3) for f in read_frames(path)]


def rows_by_frame(json_path) -> dict[int, list[dict]]:
    rows = json.loads(Path(json_path).read_text())
    by_frame: dict[int, list[dict]] = {}
    for row in rows:
        by_frame.setdefault(row["frame"], []).append(row)
    return by_frame


# ------------------------------------------------------------------------------------------- handler

def test_the_video_keeps_every_frame_its_size_and_times_and_the_json_every_frame(clip):
    out, json_path, status = video.video(str(clip), *FAST, 150, 1, True)
    src, dst = probe(clip), probe(out)
    assert (dst.width, dst.height, dst.codec) == (src.width, src.height, "h264")
    assert frame_times(out) == frame_times(clip) and len(frame_times(out)) == FRAMES
    by_frame = rows_by_frame(json_path)
    assert sorted(by_frame) == list(range(FRAMES))
    for index, rows in by_frame.items():
        for row in rows:
            assert isinstance(row["track_id"], int) and row["image_id"] == index and len(row["keypoints"]) == 51
            assert row["time_s"] == pytest.approx(index / FPS, abs=1e-3)
    # the whole frame is the one person: one track, one person a frame (none carried by its keypoints beside it)
    assert {row["track_id"] for rows in by_frame.values() for row in rows} == {1}
    assert all(len(rows) == 1 for rows in by_frame.values())
    assert f"{FRAMES} of {FRAMES} frames" in status and "frames/s" in status and "1 track" in status
    assert "detector on 12 of 12 frames" in status and "smoothed (One-Euro)" in status
    # a fresh folder per request, named after the upload, beside no user file
    assert Path(out).parent == Path(json_path).parent != clip.parent
    assert Path(out).name == "hrgcnet_hrgcnet-w32_three people_poses.mp4"


def test_max_frames_keeps_the_first_frames_and_says_so(clip):
    with pytest.warns(UserWarning, match="only the first 5 of 12 frames"):
        out, json_path, status = video.video(str(clip), *FAST, 5, 1, False)
    assert frame_times(out) == frame_times(clip)[:5]
    assert sorted(rows_by_frame(json_path)) == list(range(5))
    assert "**5 of 12 frames**" in status and "only the first 5 of 12 frames were processed" in status
    assert "not smoothed" in status


def test_the_time_limit_returns_the_frames_done(clip, monkeypatch):
    monkeypatch.setattr(state, "VIDEO_TIME_LIMIT_S", 1e-6)  # past the limit once the first frame is done
    with pytest.warns(UserWarning, match="stopped after 1 of 12 frames"):
        out, json_path, status = video.video(str(clip), *FAST, 150, 1, True)
    assert len(frame_times(out)) == 1 and probe(out).width == probe(clip).width
    assert sorted(rows_by_frame(json_path)) == [0]
    assert "time limit" in status and "the video and JSON hold the frames done" in status


def test_the_detector_runs_every_n_frames(clip):
    _, _, status = video.video(str(clip), *FAST, 150, 4, True)
    assert "detector on 3 of 12 frames" in status


def audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def larger_than_4k(path: Path) -> Path:
    from hrgcnet.video import VideoWriter

    with VideoWriter(path, fps=1) as writer:
        writer.write(np.zeros((2304, 4096, 3), np.uint8))
    return path


BAD_VIDEOS = {
    "empty.mp4": (lambda p: p.write_bytes(b"") or p, "empty.mp4: empty file"),
    "notes.mp4": (lambda p: p.write_text("not a video, just text") or p, "notes.mp4: not a readable video"),
    "song.mp4": (audio_only, "song.mp4: no video stream (only audio)"),
    "huge.mp4": (larger_than_4k, "huge.mp4: 4096x2304 frames are larger than"),
}


@pytest.mark.parametrize("name", BAD_VIDEOS)
def test_bad_videos_get_a_message_naming_the_file(name, tmp_path):
    """An upload lives in a server folder: the message names the file, never that folder."""
    make, message = BAD_VIDEOS[name]
    upload = tmp_path / "gradio" / "5e1b" / name
    upload.parent.mkdir(parents=True)
    make(upload)
    with pytest.raises(gr.Error) as err:
        video.video(str(upload), *FAST)
    assert err.value.message.startswith(message) and str(tmp_path) not in err.value.message


def test_a_truncated_video_gets_a_message_or_the_frames_that_decode(clip, tmp_path):
    """The first 60% of the clip's bytes (an interrupted upload): either the frames that decode, with a note that
    decoding stopped, or a message naming the file; never a traceback."""
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size * 6 // 10])
    try:
        out, _, status = video.video(str(cut), *FAST)
    except gr.Error as err:
        assert err.message.startswith("cut.mp4: ") and str(tmp_path) not in err.message
    else:
        assert "decoding stopped" in status and 0 < len(frame_times(out)) < FRAMES


@pytest.mark.parametrize(("args", "message"), [
    ((None, *FAST), "no video"),
    (("x.mp4", "no-such-model", *FAST[1:]), "model 'no-such-model' is not available"),
    (("x.mp4", *FAST, 0), "max frames must be 1.."),
    (("x.mp4", *FAST, 10, 11), "detector every n frames must be 1..10"),
])
def test_bad_settings_get_a_message(args, message):
    with pytest.raises(gr.Error, match=message):
        video.video(*args)


# ------------------------------------------------------------------------------------------ HTTP API

def test_the_video_endpoint(client, clip):
    """``/video`` with the page's defaults for everything but the settings given: the default detector (offline:
    NanoDet-g) finds the three people, each with a track id, the detector running on every 3rd frame."""
    from gradio_client import handle_file

    out, json_path, status = client.predict(handle_file(str(clip)), "hrgcnet-w32", "128x96", state.DEFAULT_DETECTOR,
                                            False, 0.3, 0.5, FRAMES, 3, True, api_name="/video")
    out = out["video"] if isinstance(out, dict) else out
    assert frame_times(out) == frame_times(clip) and probe(out).height == probe(clip).height
    by_frame = rows_by_frame(json_path)
    assert sorted(by_frame) == list(range(FRAMES)), status
    assert len(by_frame[0]) == 3, status  # the first frame: the detector's three people, nobody carried yet
    assert all(len({row["track_id"] for row in rows}) == len(rows) for rows in by_frame.values())
    assert "detector on 4 of 12 frames" in status and "nanodet" in status


def test_the_video_endpoint_reports_bad_files(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "holiday.mp4"
    bad.write_text("not a video")
    with pytest.raises(AppError) as err:
        client.predict(handle_file(str(bad)), *FAST, api_name="/video")
    assert "holiday.mp4: not a readable video" in str(err.value) and "Traceback" not in str(err.value)


def test_the_video_tab_is_wired():
    from app.ui import build_demo

    fns = build_demo().fns.values()
    run = next(f for f in fns if f.api_name == "video")
    assert run.fn is video.video and run.concurrency_id == "video"
    assert isinstance(run.inputs[0], gr.Video) and [type(c) for c in run.outputs] == [gr.Video, gr.File, gr.Markdown]
    toggle = next(f for f in fns if f.fn is handlers.live_tracking)
    assert isinstance(toggle.inputs[1], gr.Checkbox) and toggle.inputs[1].value is True
    live = next(f for f in fns if f.api_name == "live")
    assert toggle.inputs[0] is live.inputs[1]  # the checkbox writes the stream's own state, not a /live input
    assert "{" not in video.INTRO and f"{state.VIDEO_MAX_FRAMES} frames" in video.INTRO


# ------------------------------------------------------------------------------------------ live webcam

@pytest.fixture()
def no_rate_cap(monkeypatch):
    monkeypatch.setattr(streaming, "LIVE_MAX_FPS", float("inf"))


def live_frames(clip, n: int):
    return [f.image for f in read_frames(clip, max_frames=n)]


def live(frame, state_, key, **kw):
    args = dict(model="hrgcnet-w32", detector="full", input_size="64x64", flip_test=False, kpt_thr=0.0, box_thr=0.5)
    args.update(kw)
    return streaming.process_frame(frame, state_, session_key=key, **args)


def test_the_live_webcam_tracks_and_smooths_by_default(clip, no_rate_cap):
    live_state = None
    for frame in live_frames(clip, 3):
        overlay, status, live_state = live(frame, live_state, "track")
        assert overlay is not None and "smoothed + tracked: 1 track shown" in status
    settings, tracker = streaming._trackers["track"]
    assert tracker.frames == 3 and tracker.tracker.next_id == 2  # one person, one id over the frames
    assert tracker.estimator is None  # no network is kept between frames


def test_the_live_tracker_starts_again_with_the_stream_and_the_settings(clip, no_rate_cap):
    frames = live_frames(clip, 2)
    _, _, live_state = live(frames[0], None, "restart")
    first = streaming._trackers["restart"][1]
    _, _, live_state = live(frames[1], live_state, "restart")
    assert streaming._trackers["restart"][1] is first and first.frames == 2
    _, _, live_state = live(frames[1], live_state, "restart", input_size="96x96")  # other settings
    assert streaming._trackers["restart"][1] is not first
    second = streaming._trackers["restart"][1]
    live_state.last_seen -= streaming.RESTART_GAP_S + 1  # a paused and restarted webcam
    _, _, live_state = live(frames[0], live_state, "restart", input_size="96x96")
    assert streaming._trackers["restart"][1] is not second and live_state.processed == 1


def test_the_smooth_and_track_toggle(clip, no_rate_cap):
    frame = live_frames(clip, 1)[0]
    live_state = handlers.live_tracking(None, False)  # turned off before the stream starts
    overlay, status, live_state = live(frame, live_state, "toggle")
    assert overlay is not None and "tracked" not in status and "toggle" not in streaming._trackers
    assert handlers.live_tracking(live_state, True) is live_state and live_state.track  # the same state, in place
    _, status, live_state = live(frame, live_state, "toggle")
    assert "smoothed + tracked" in status and "toggle" in streaming._trackers
    live_state.track = False
    live_state.last_seen -= streaming.RESTART_GAP_S + 1  # a restarted stream keeps the choice
    _, status, live_state = live(frame, live_state, "toggle")
    assert not live_state.track and "toggle" not in streaming._trackers


def test_live_trackers_are_bounded(monkeypatch):
    monkeypatch.setattr(streaming, "MAX_SESSIONS", 4)
    for i in range(20):
        streaming._session_tracker(f"bounded{i}", ("hrgcnet-w32",), fresh=False)
    assert len(streaming._trackers) == 4
