"""Reading and writing video files: frame counts, sizes and times survive, bad files give clear errors."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from hrgcnet.errors import HRGCNetError
from hrgcnet.video import VideoError, VideoWriter, is_video_path, probe, read_frames


def _frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    out = []
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, (i * 4) % w: (i * 4) % w + 8] = (255, 128, 0)
        out.append(img)
    return out


def test_round_trip_keeps_count_size_and_variable_times(tmp_path):
    times = [0.0, 0.04, 0.08, 0.2, 0.24, 0.5]  # a variable frame rate
    with VideoWriter(tmp_path / "a.mp4", fps=25) as writer:
        for image, t in zip(_frames(len(times)), times):
            writer.write(image, t)
    info = probe(tmp_path / "a.mp4")
    assert (info.width, info.height, info.frames, info.codec) == (64, 48, 6, "h264")
    frames = list(read_frames(tmp_path / "a.mp4"))
    assert [f.index for f in frames] == list(range(6))
    assert np.allclose([f.time_s for f in frames], times, atol=1e-3)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    assert abs(int(frames[2].image[20, 10, 0]) - 255) < 40  # the orange bar moved to x = 8..16
    assert list(read_frames(tmp_path / "a.mp4", max_frames=2))[-1].index == 1


def test_odd_sizes_are_padded_and_the_file_is_browser_ready(tmp_path):
    with VideoWriter(tmp_path / "odd.mp4", fps=10) as writer:
        for image in _frames(3, 47, 63):
            writer.write(image)
    info = probe(tmp_path / "odd.mp4")
    assert (info.width, info.height) == (64, 48)
    with av.open(str(tmp_path / "odd.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == Fraction(10)
    data = (tmp_path / "odd.mp4").read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: playable while it downloads


def test_writer_replaces_only_with_a_complete_file(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(RuntimeError):
        with VideoWriter(target, fps=10) as writer:
            writer.write(_frames(1)[0])
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"precious" and [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    writer = VideoWriter(target, fps=10)
    with pytest.raises(VideoError, match="no frame"):
        writer.close()
    assert target.read_bytes() == b"precious"
    with VideoWriter(target, fps=10) as writer:
        writer.write(_frames(1)[0])
    assert probe(target).frames == 1


def _audio_only(path):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_bad_files_give_clear_errors(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 20)
    _audio_only(tmp_path / "audio.m4a")
    cases = {"missing.mp4": "no such file", "empty.mp4": "empty file", "text.mp4": "not a readable video",
             "audio.m4a": "no video stream"}
    for name, message in cases.items():
        with pytest.raises(VideoError, match=message) as info:
            list(read_frames(tmp_path / name))
        assert isinstance(info.value, HRGCNetError) and name in str(info.value)


def test_too_large_frames_are_refused_before_decoding(tmp_path):
    with VideoWriter(tmp_path / "big.mp4", fps=1) as writer:
        writer.write(np.zeros((2176, 3856, 3), np.uint8))
    with pytest.raises(VideoError, match="larger than the 8.3 Mpx"):
        probe(tmp_path / "big.mp4")


def test_a_truncated_video_ends_where_it_breaks_with_a_note(tmp_path):
    with VideoWriter(tmp_path / "full.mp4", fps=25) as writer:
        for image in _frames(40, 96, 128):
            writer.write(image + np.random.default_rng(0).integers(0, 60, image.shape, dtype=np.uint8))
    data = (tmp_path / "full.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    notes: list[str] = []
    frames = list(read_frames(tmp_path / "cut.mp4", notes=notes))
    assert 0 < len(frames) < 40  # what decodes is kept; nothing hangs
    assert len(notes) == 1 and f"{len(frames)} of the 40 frames" in notes[0]
    (tmp_path / "head.mp4").write_bytes(data[:600])
    with pytest.raises(VideoError):
        list(read_frames(tmp_path / "head.mp4"))


def test_video_suffixes():
    assert is_video_path("a/clip.MP4") and is_video_path("x.webm") and not is_video_path("photo.jpg")


def test_rotation_metadata_turns_frames_upright(tmp_path):
    """A phone's portrait clip: landscape frames stored with a 90° display rotation."""
    with av.open(str(tmp_path / "phone.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)
        image = np.zeros((48, 64, 3), np.uint8)
        image[:16, :24] = 255  # a white block at the stored frame's top left
        for _ in range(2):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    notes: list[str] = []
    frames = list(read_frames(tmp_path / "phone.mp4", notes=notes))
    upright = frames[0].image
    assert upright.shape == (64, 48, 3)
    assert upright[-12:, :8].mean() > 200 and upright[:12, :8].mean() < 50  # turned counter-clockwise
    assert len(notes) == 1 and "turned 90°" in notes[0]
