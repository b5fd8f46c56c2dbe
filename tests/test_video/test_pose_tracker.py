"""Poses on clips with known motion: stable track ids, lower jitter with smoothing, the detector every k-th
frame, annotated videos frame for frame."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hrgcnet.detectors.base import Detections
from hrgcnet.io import load_image
from hrgcnet.pipeline import PoseEstimator
from hrgcnet.video import OneEuroParams, PoseTracker, annotate_video, probe, read_frames
from hrgcnet.video.synthetic import jitter, pan_zoom_transforms, render_clip, to_photo

DEV_IMAGE = 491008  # dev.json: two persons, both found by NanoDet


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    return PoseEstimator("hrgcnet-w32", detector="nanodet", flip_test=False)


@pytest.fixture(scope="module")
def dev_clip(shared_data, tmp_path_factory):
    data = json.loads((shared_data / "coco" / "dev.json").read_text())
    info = next(i for i in data["images"] if i["id"] == DEV_IMAGE)
    image = load_image(shared_data / "coco" / "images" / info["file_name"])
    transforms = pan_zoom_transforms(image.shape[:2], 16, zoom=(1.0, 1.15), pan=0.1)
    path = tmp_path_factory.mktemp("dev_clip") / "pan.mp4"
    render_clip(image, transforms, path, fps=25)
    return path, transforms, image.shape[:2]


def _photo_boxes(boxes: np.ndarray, transform: np.ndarray) -> np.ndarray:
    return np.stack([to_photo(b.reshape(2, 2), transform).reshape(4) for b in boxes]) if len(boxes) else boxes


def test_track_ids_stay_and_smoothing_lowers_jitter(estimator, dev_clip):
    """Every person of the first frame whose box centre stays in view keeps its track id in every frame; mapped
    back to the photo, its keypoints should stand still: smoothing must remove most of their movement."""
    path, transforms, (h, w) = dev_clip
    frames = list(read_frames(path))
    runs = {}
    for name, smoothing in (("raw", None), ("smooth", OneEuroParams())):
        tracker = PoseTracker(estimator, smoothing=smoothing)
        runs[name] = [tracker(f.image, f.time_s)[0] for f in frames]
    first = runs["raw"][0]
    centers = (_photo_boxes(first.boxes, transforms[0]).reshape(-1, 2, 2)).mean(axis=1)
    stays = [all(np.all((c := a[:, :2] @ center + a[:, 2]) >= 0) and np.all(c <= [w, h]) for a in transforms)
             for center in centers]
    assert sum(stays) >= 2
    for n in np.flatnonzero(stays):
        jit = {}
        for name, results in runs.items():
            track_id = results[0].track_ids[n]
            where = [np.flatnonzero(r.track_ids == track_id) for r in results]
            assert all(len(i) == 1 for i in where), f"{name}: track {track_id} lost in frames " \
                f"{[t for t, i in enumerate(where) if len(i) != 1]}"
            track = np.stack([r.keypoints[i[0], :, :2] for r, i in zip(results, where)])
            jit[name] = jitter(track, transforms)
        assert jit["smooth"] < 0.6 * jit["raw"], jit


class ScriptedDetector:
    """Gives ``boxes[:counts[call]]`` (the last count once the script runs out); counts its calls."""

    def __init__(self, boxes: np.ndarray, counts: list[int]) -> None:
        self.boxes, self.counts, self.calls = boxes, counts, 0

    def __call__(self, image, *, image_id=None, file_name=None) -> Detections:
        n = self.counts[min(self.calls, len(self.counts) - 1)]
        self.calls += 1
        return Detections(self.boxes[:n].astype(np.float32), np.full(n, 0.9, np.float32))


BOXES = np.array([[5, 5, 95, 108.0], [110, 5, 200, 108]])  # the clip is 320x110


def test_the_detector_runs_every_kth_frame(three_people_clip):
    path, _ = three_people_clip
    detector = ScriptedDetector(BOXES, [2])
    tracker = PoseTracker(PoseEstimator("hrgcnet-w32", detector=detector, flip_test=False), every=3)
    steps = [tracker(f.image, f.time_s) for f in read_frames(path)]
    assert [ran for _, ran in steps] == [True, False, False, True, False, False, True, False]
    assert detector.calls == 3
    assert [sorted(r.track_ids.tolist()) for r, _ in steps] == [[1, 2]] * 8


def test_a_missed_person_is_carried_for_a_few_detector_runs(three_people_clip):
    path, _ = three_people_clip
    detector = ScriptedDetector(BOXES, [2, 1])  # the second person is missed from the second frame on
    tracker = PoseTracker(PoseEstimator("hrgcnet-w32", detector=detector, flip_test=False), carry=2, carry_score=0)
    results = [tracker(f.image, f.time_s)[0] for f in read_frames(path)]
    assert [len(r) for r in results] == [2, 2, 2, 1, 1, 1, 1, 1]
    assert [sorted(r.track_ids.tolist()) for r in results[:3]] == [[1, 2]] * 3
    assert [r.detected for r in results[:3]] == [2, 1, 1]


def test_annotate_video_frame_for_frame(estimator, three_people_clip, tmp_path):
    path, _ = three_people_clip
    seen = []
    frames, notes = annotate_video(PoseTracker(estimator, every=2), path, tmp_path / "out.mp4",
                                   on_frame=lambda fr: seen.append(fr.index))
    src, out = probe(path), probe(tmp_path / "out.mp4")
    assert (out.frames, out.width, out.height) == (src.frames, src.width, src.height) == (len(frames), 320, 110)
    assert seen == list(range(src.frames))
    assert np.allclose([f.time_s for f in read_frames(tmp_path / "out.mp4")], [f.time_s for f in frames])
    rows = [row for fr in frames for row in fr.to_coco_json()]
    assert rows and {"frame", "time_s", "track_id", "keypoints", "score"} <= set(rows[0])
    assert [fr.detected for fr in frames] == [i % 2 == 0 for i in range(len(frames))]
    frames_only, _ = annotate_video(PoseTracker(estimator), path, None, max_frames=3)
    assert len(frames_only) == 3 and not (tmp_path / "none.mp4").exists()
