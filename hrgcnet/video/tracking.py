"""Person identities across frames: greedy IoU matching of boxes, and boxes carried by the keypoints.

Top-down pose tracking as in Simple Baselines (Xiao et al., ECCV 2018): between two detector frames, each
person's box for the next frame is the extent of its keypoints, enlarged; each frame's persons are matched
to the tracks of the previous frames by box IoU, highest first (greedy: with the few persons of a frame it
equals the optimal assignment in practice, and needs no solver).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..detectors.base import box_iou


def boxes_from_keypoints(keypoints: np.ndarray, fallback: np.ndarray, score_thr: float = 0.2,
                         enlarge: float = 1.2, min_points: int = 3) -> np.ndarray:
    """Boxes ``(N, 4)`` around each person's keypoints ``(N, K, 3)`` with score >= ``score_thr``, enlarged by
    ``enlarge`` about their centre (keypoints miss the head top and the feet's soles); a person with fewer
    than ``min_points`` such keypoints keeps its ``fallback`` box."""
    out = np.asarray(fallback, dtype=np.float64).copy().reshape(-1, 4)
    for i, kpts in enumerate(np.asarray(keypoints, dtype=np.float64)):
        xy = kpts[kpts[:, 2] >= score_thr, :2]
        if len(xy) < min_points:
            continue
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        center, half = (lo + hi) / 2, np.maximum((hi - lo) / 2 * enlarge, 2.0)
        out[i] = [*(center - half), *(center + half)]
    return out


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    missed: int = 0


@dataclass
class IoUTracker:
    """Stable ids for the persons of consecutive frames.

    Attributes:
        iou_threshold: least box IoU for a person to continue a track.
        max_missed: frames a track survives unmatched (a person hidden for a moment keeps the id).
    """

    iou_threshold: float = 0.3
    max_missed: int = 10
    next_id: int = 1
    tracks: list[_Track] = field(default_factory=list)

    def update(self, boxes: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
        """Ids ``(N,)`` int64 of this frame's ``boxes`` ``(N, 4)``: a matched track's id, else a new one.

        ``known`` ``(N,)``: a track id per box that is known to continue that track (a box carried from its
        keypoints), 0 for the boxes to match by IoU; a known id whose track has ended is matched by IoU too."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        ids = np.zeros(len(boxes), dtype=np.int64)
        matched_tracks: set[int] = set()
        index = {t.track_id: ti for ti, t in enumerate(self.tracks)}
        for bi, track_id in enumerate(np.zeros(len(boxes), np.int64) if known is None else known):
            ti = index.get(int(track_id))
            if ti is not None and ti not in matched_tracks:
                self.tracks[ti].box, self.tracks[ti].missed = boxes[bi], 0
                ids[bi] = track_id
                matched_tracks.add(ti)
        if self.tracks and len(boxes):
            iou = box_iou(np.stack([t.box for t in self.tracks]), boxes)
            for flat in np.argsort(-iou, axis=None):
                ti, bi = np.unravel_index(flat, iou.shape)
                if iou[ti, bi] < self.iou_threshold:
                    break
                if ti in matched_tracks or ids[bi]:
                    continue
                track = self.tracks[ti]
                track.box, track.missed = boxes[bi], 0
                ids[bi] = track.track_id
                matched_tracks.add(int(ti))
        for ti, track in enumerate(self.tracks):
            if ti not in matched_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for bi in np.flatnonzero(ids == 0):
            ids[bi] = self.next_id
            self.tracks.append(_Track(self.next_id, boxes[bi]))
            self.next_id += 1
        return ids
