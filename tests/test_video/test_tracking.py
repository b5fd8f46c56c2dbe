"""Track ids: greedy IoU matching, tracks that wait for a hidden person, boxes carried by keypoints."""

from __future__ import annotations

import numpy as np

from hrgcnet.video import IoUTracker, boxes_from_keypoints


def test_ids_follow_moving_boxes_and_new_persons_get_new_ids():
    tracker = IoUTracker()
    a, b = np.array([0, 0, 50, 100.0]), np.array([200, 0, 250, 100.0])
    assert tracker.update(np.stack([a, b])).tolist() == [1, 2]
    assert tracker.update(np.stack([b + 5, a + 5])).tolist() == [2, 1]  # order does not matter
    c = np.array([400, 0, 450, 100.0])
    assert tracker.update(np.stack([a + 10, c, b + 10])).tolist() == [1, 3, 2]


def test_a_hidden_person_keeps_its_id_for_max_missed_frames():
    tracker = IoUTracker(max_missed=2)
    a, b = np.array([0, 0, 50, 100.0]), np.array([200, 0, 250, 100.0])
    tracker.update(np.stack([a, b]))
    tracker.update(a[None])
    tracker.update(a[None])
    assert tracker.update(np.stack([a, b])).tolist() == [1, 2]  # back after 2 frames
    for _ in range(3):
        tracker.update(a[None])
    assert tracker.update(np.stack([a, b])).tolist() == [1, 3]  # gone for 3 > max_missed frames


def test_one_box_never_takes_two_ids():
    tracker = IoUTracker()
    tracker.update(np.array([[0, 0, 50, 100.0], [10, 0, 60, 100.0]]))
    ids = tracker.update(np.array([[5, 0, 55, 100.0]]))
    assert len(ids) == 1 and ids[0] in (1, 2)


def test_boxes_from_keypoints():
    kpts = np.zeros((2, 17, 3))
    kpts[0, :, 0], kpts[0, :, 1], kpts[0, :, 2] = np.linspace(100, 200, 17), np.linspace(0, 300, 17), 0.9
    kpts[1, :2, 2] = 0.9  # two confident keypoints: too few, the fallback box stays
    fallback = np.array([[0, 0, 1, 1], [5, 5, 50, 50.0]])
    boxes = boxes_from_keypoints(kpts, fallback, enlarge=1.2)
    assert np.allclose(boxes[0], [90, -30, 210, 330])
    assert np.allclose(boxes[1], fallback[1])


def test_known_ids_continue_their_tracks_whatever_the_overlap():
    tracker = IoUTracker()
    a, b = np.array([0, 0, 50, 100.0]), np.array([60, 0, 110, 100.0])
    tracker.update(np.stack([a, b]))
    moved = np.stack([a + [30, 0, 30, 0], b + [200, 0, 200, 0]])  # a now overlaps b's old place more than its own
    assert tracker.update(moved, known=np.array([1, 0])).tolist() == [1, 3]
    assert tracker.update(moved, known=np.array([7, 0])).tolist() == [1, 3]  # an ended id: matched by IoU
