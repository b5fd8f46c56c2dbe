"""Poses on video files and streams.

* :mod:`.io`: read frames (PyAV, each frame's own time) and write browser-playable H.264 mp4.
* :mod:`.tracking`: stable person ids (greedy box IoU), boxes carried by keypoints between detector frames.
* :mod:`.smoothing`: the One-Euro filter per keypoint.
* :mod:`.pipeline`: :class:`PoseTracker` (per frame, for streams) and :func:`annotate_video` (files).
* :mod:`.synthetic`: clips with known motion from still photos, and their jitter measure.
"""

from .io import MAX_FRAME_PIXELS, VIDEO_SUFFIXES, Frame, VideoError, VideoInfo, VideoWriter, is_video_path, probe, \
    read_frames
from .pipeline import FrameResult, PoseTracker, annotate_video
from .smoothing import OneEuroFilter, OneEuroParams
from .tracking import IoUTracker, boxes_from_keypoints

__all__ = [
    "MAX_FRAME_PIXELS", "VIDEO_SUFFIXES", "Frame", "FrameResult", "IoUTracker", "OneEuroFilter", "OneEuroParams",
    "PoseTracker", "VideoError", "VideoInfo", "VideoWriter", "annotate_video", "boxes_from_keypoints",
    "is_video_path", "probe", "read_frames",
]
