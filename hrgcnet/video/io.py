"""Reading and writing video files with PyAV (FFmpeg's libraries, bundled in its wheels).

PyAV rather than OpenCV: its wheels read mp4/mov/webm/mkv/avi alike, give each frame's own timestamp (variable
frame rates stay right) and write H.264 (libx264), which every browser plays; OpenCV's wheels write only
MPEG-4 part 2, which browsers do not play.

Frames are ``(H, W, 3)`` uint8 RGB, as images everywhere in :mod:`hrgcnet`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ImageError, UsageError

#: File name endings read as videos by the CLI and the app.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
#: Largest frame accepted (4K UHD); larger videos are refused before any frame is decoded.
MAX_FRAME_PIXELS = 3840 * 2160
#: Time base of written timestamps (the MPEG clock): fine enough for any frame rate.
_WRITE_TIME_BASE = Fraction(1, 90_000)


class VideoError(ImageError):
    """A video that cannot be read or written, or that is outside the accepted limits."""


def is_video_path(path: str | os.PathLike) -> bool:
    """True when the file name ends like a video (:data:`VIDEO_SUFFIXES`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a dependency
        raise UsageError("video needs PyAV: pip install av") from exc
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What the container says of a video's first video stream.

    Attributes:
        width, height: frame size in pixels, as stored (before any rotation metadata is applied).
        fps: average frame rate (frames per second); 0 when the container does not say.
        frames: frame count the container declares; 0 when it does not (count by reading).
        duration_s: duration in seconds; 0 when unknown.
        codec: the stream's codec name, e.g. ``"h264"``.
    """

    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    codec: str


@dataclass
class Frame:
    """One decoded frame: its index from 0, its time in seconds from the first frame, and the RGB image."""

    index: int
    time_s: float
    image: np.ndarray


def _open(path: str | os.PathLike, name: str | None = None):
    """The opened container and its first video stream; :class:`VideoError` (naming the file ``name``, default
    its path) for anything else."""
    av = _av()
    label, path = name or str(path), Path(path)
    if not path.is_file():
        raise VideoError(f"{label}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{label}: empty file (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise VideoError(f"{label}: not a readable video ({_reason(exc)})") from None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        container.close()
        raise VideoError(f"{label}: no video stream (only {', '.join(kinds)})")
    stream = container.streams.video[0]
    width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
    if width <= 0 or height <= 0:
        container.close()
        raise VideoError(f"{label}: the video stream has no frame size")
    if width * height > MAX_FRAME_PIXELS:
        container.close()
        raise VideoError(f"{label}: {width}x{height} frames are larger than the {MAX_FRAME_PIXELS / 1e6:.1f} Mpx "
                         "accepted (4K); scale the video down first")
    return container, stream


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def probe(path: str | os.PathLike, name: str | None = None) -> VideoInfo:
    """The :class:`VideoInfo` of ``path`` without decoding frames; errors name the file ``name`` (default: its
    path; e.g. an upload's own name rather than a server path).

    Raises:
        VideoError: missing, empty or unreadable file, no video stream (e.g. audio only), frames above
            :data:`MAX_FRAME_PIXELS`.
    """
    container, stream = _open(path, name)
    with container:
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = float(container.duration or 0) / 1e6  # AV_TIME_BASE
        return VideoInfo(width=int(stream.codec_context.width), height=int(stream.codec_context.height),
                         fps=fps, frames=int(stream.frames or 0), duration_s=max(duration, 0.0),
                         codec=stream.codec_context.name)


def read_frames(path: str | os.PathLike, max_frames: int | None = None, notes: list[str] | None = None,
                name: str | None = None) -> Iterator[Frame]:
    """Decode the frames of ``path`` in order, as RGB, turned upright as the file's rotation metadata asks (phone
    clips); errors and notes name the file ``name`` (default: its path).

    Times come from each frame's own timestamp, so a variable frame rate keeps its timing; a frame without a
    timestamp, or one not after the previous, gets the previous time plus one average frame interval.
    A stream that breaks off after some frames, or ends before the frame count its container declares, ends
    there, with a note appended to ``notes``.

    Raises:
        VideoError: as :func:`probe`, and a video of which not even the first frame decodes.
    """
    av = _av()
    label = name or str(path)
    container, stream = _open(path, name)
    stream.thread_type = "AUTO"
    step = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
    index, last_t, start = 0, None, None
    with container:
        try:
            for frame in container.decode(stream):
                if max_frames is not None and index >= max_frames:
                    return
                t = frame.time
                if t is not None and start is None:
                    start = t
                t = None if t is None else t - start
                if t is None or (last_t is not None and t <= last_t):
                    t = 0.0 if last_t is None else last_t + step
                image = frame.to_ndarray(format="rgb24")
                turns = round(getattr(frame, "rotation", 0) / 90) % 4  # the display matrix: counter-clockwise
                if turns:  # phones store portrait clips as landscape frames plus a rotation to show them with
                    image = np.ascontiguousarray(np.rot90(image, k=turns))
                    if index == 0 and notes is not None:
                        notes.append(f"{Path(label).name}: frames turned {turns * 90}° counter-clockwise, as the "
                                     "file's rotation metadata asks")
                yield Frame(index, float(t), image)
                index, last_t = index + 1, t
        except (av.FFmpegError, ValueError, OSError) as exc:
            if index == 0:
                raise VideoError(f"{label}: no frame could be decoded ({_reason(exc)})") from None
            if notes is not None:
                notes.append(f"{Path(label).name}: decoding stopped after {index} frame(s): {_reason(exc)}")
        declared = int(stream.frames or 0)
    if index == 0:
        raise VideoError(f"{label}: the video has no frames")
    if notes is not None and index < declared and (max_frames is None or index < max_frames) and not any(
            n.startswith(f"{Path(label).name}: decoding stopped") for n in notes):
        notes.append(f"{Path(label).name}: {index} of the {declared} frames the file declares could be decoded "
                     "(truncated or damaged file?)")


class VideoWriter:
    """Write RGB frames into an H.264 mp4 (yuv420p, ``+faststart``: browsers play it while it downloads).

    The file is written beside ``path`` under a temporary name and renamed on a clean :meth:`close`, so an
    existing ``path`` is replaced only by a complete video, and an error leaves nothing behind. Frame times
    are kept as given (variable frame rates stay variable). Odd frame sizes are padded by one black pixel
    (H.264 4:2:0 needs even sizes).

    Args:
        path: the ``.mp4`` to write.
        fps: nominal frame rate (container metadata, and the time step of frames given without a time).
        crf: x264 quality (lower is better; 23 is x264's default).
    """

    def __init__(self, path: str | os.PathLike, fps: float, crf: int = 23) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.crf = int(crf)
        self.frames = 0
        self._container = self._stream = None
        self._last_pts = -1
        # a name of this process's own beside the target (same file system: the final rename is atomic)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{id(self):x}.part")

    def _start(self, width: int, height: int) -> None:
        av = _av()
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: cannot write the video ({_reason(exc)})") from None
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = _WRITE_TIME_BASE
        stream.codec_context.time_base = _WRITE_TIME_BASE
        stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        self._stream = stream

    def write(self, image: np.ndarray, time_s: float | None = None) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame shown at ``time_s`` seconds (default: after the last)."""
        av = _av()
        if self._container is None:
            self._start(image.shape[1], image.shape[0])
        w, h = self._stream.width, self._stream.height
        if image.shape[:2] != (h, w):
            if image.shape[0] > h or image.shape[1] > w:
                raise VideoError(f"frame {self.frames} is {image.shape[1]}x{image.shape[0]}, the video "
                                 f"{w}x{h}: all frames of a video have one size")
            image = np.pad(image, ((0, h - image.shape[0]), (0, w - image.shape[1]), (0, 0)))
        pts = round((time_s if time_s is not None else self.frames / self.fps) / _WRITE_TIME_BASE)
        pts = max(pts, self._last_pts + 1)  # strictly increasing, whatever the caller gives
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = pts, _WRITE_TIME_BASE
        self._container.mux(self._stream.encode(frame))
        self._last_pts = pts
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it to ``path``; returns ``path``.

        Raises:
            VideoError: no frame was written, or the file cannot be finished.
        """
        if self._container is None:
            self.abort()
            raise VideoError(f"{self.path}: no frame to write")
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            os.replace(self._tmp, self.path)
        except (OSError, ValueError) as exc:
            self.abort()
            raise VideoError(f"{self.path}: cannot write the video ({_reason(exc)})") from None
        self._container = None
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is removed anyway
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
