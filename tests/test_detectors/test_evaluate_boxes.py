"""Person-box evaluation (``hrgcnet eval-boxes``): matching, recall by area, precision with crowd regions, COCO
box AP, and the command on the real val split (ground-truth boxes score AP 1; NanoDet on a few images)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hrgcnet.detectors.evaluate import box_iou, coco_box_ap, evaluate_boxes, match_boxes, threshold_stats
from hrgcnet.cli import main
from hrgcnet.detectors import create_detector
from hrgcnet.evaluation.coco import coco_from_dict


def test_box_iou_by_hand():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]]))
    np.testing.assert_allclose(iou, [[50 / 150, 0, 1]])


def test_greedy_matching_takes_the_highest_scores_first():
    gt = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], float)
    det = np.array([[1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    gt_hit, det_hit = match_boxes(gt, det, np.array([0.4, 0.9, 0.8]))
    assert gt_hit.tolist() == [True, False]
    assert det_hit.tolist() == [False, True, False]  # the 0.9 box took the person; the 0.4 duplicate is a miss


def test_threshold_stats_recall_by_area_and_crowd():
    # image 1: a small person (area 100), a large one (area 20000) and a crowd region
    gt = {1: (np.array([[0, 0, 10, 10], [0, 100, 100, 300], [200, 0, 400, 200]], float),
              np.array([100.0, 20000.0, 40000.0]), np.array([False, False, True]))}
    dets = {1: (np.array([[0, 100, 100, 300], [250, 50, 300, 100], [500, 500, 520, 520], [0, 0, 10, 10]], float),
                np.array([0.9, 0.8, 0.7, 0.2]))}
    at = threshold_stats(gt, dets, 0.5)
    # kept: the large person (hit), a box on the crowd (not counted), a false positive
    assert at["boxes"] == 2 and at["matched"] == 1 and at["precision"] == 0.5
    assert at["recall"] == 0.5 and at["recall_large"] == 1.0 and at["recall_small"] == 0.0
    assert at["recall_medium"] is None and at["persons_small"] == 1 and at["persons_large"] == 1
    low = threshold_stats(gt, dets, 0.1)
    assert low["recall"] == 1.0 and low["precision"] == pytest.approx(2 / 3)


def test_coco_box_ap_of_perfect_and_of_no_boxes():
    data = {"images": [{"id": 1, "width": 100, "height": 100, "file_name": "a.jpg"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 80], "area": 4000,
                             "iscrowd": 0}],
            "categories": [{"id": 1, "name": "person"}]}
    coco = coco_from_dict(data)
    perfect = coco_box_ap(coco, [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 80], "score": 0.9}])
    assert perfect["AP"] == pytest.approx(1.0) and perfect["AP50"] == pytest.approx(1.0)
    assert coco_box_ap(coco, [])["AP"] == 0.0


def test_ground_truth_boxes_score_ap_one_on_val(coco_val):
    ann, images = coco_val
    row = evaluate_boxes(create_detector(str(ann)), ann, images, thresholds=(0.5,))
    assert row["images"] == 79 and row["persons"] == 117
    assert row["AP"] == pytest.approx(1.0) and row["AP50"] == pytest.approx(1.0)
    assert row["at"][0]["recall"] == 1.0 and row["at"][0]["precision"] == 1.0


def test_eval_boxes_command(coco_val, capsys):
    ann, _ = coco_val
    rc = main(["eval-boxes", "--ann", str(ann), "--detector", "nanodet", "--max-images", "4", "--threads", "1",
               "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    (row,) = json.loads(out.out)
    assert row["detector"].startswith("nanodet") and row["images"] == 4 and row["threads"] == 1
    assert 0 <= row["AP"] <= 1 and [a["threshold"] for a in row["at"]] == [0.3, 0.5]
    assert row["ms_mean"] > 0
    rc = main(["eval-boxes", "--ann", str(ann), "--detector", "full", "--max-images", "2", "--thr", "0.9"])
    assert rc == 0 and "rec L" in capsys.readouterr().out


def test_eval_boxes_refuses_an_unavailable_detector_instead_of_measuring_another(coco_val, monkeypatch, tmp_path,
                                                                                  capsys):
    pytest.importorskip("ultralytics")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path))
    ann, _ = coco_val
    assert main(["eval-boxes", "--ann", str(ann), "--detector", "yolo", "--max-images", "1"]) == 2
    assert "cannot download YOLO weights" in capsys.readouterr().err
    assert main(["eval-boxes", "--ann", str(ann), "--thr", "1.5"]) == 2
    assert "--thr must be in [0, 1]" in capsys.readouterr().err
