import json

import numpy as np
import pytest

from hrgcnet.data import DataSpec, load_records
from hrgcnet.data.coco import FACE_IDS, clip_box_xywh
from hrgcnet.errors import DatasetError
from hrgcnet.structures import FLIP_INDICES


def test_coco_train_persons(coco_train):
    recs = load_records(DataSpec(str(coco_train)))
    # data README: 2,645 persons with at least one labelled keypoint (none is a crowd region).
    assert len(recs) == 2645
    r = recs[0]
    assert r.keypoints.shape == (17, 3) and r.weights.shape == (17,) and r.box.shape == (4,)
    assert np.array_equal(r.weights > 0, r.keypoints[:, 2] > 0)
    assert all(rec.box[2] >= rec.box[0] and rec.box[3] >= rec.box[1] for rec in recs)
    unstretched = load_records(DataSpec(str(coco_train), skip_stretched=True))
    # the original COCO parts (README, persons with keypoints: COCO-MINI 86, COCO_Tiny train2017 69)
    assert len(unstretched) == 86 + 69
    assert not any(rec.stretched for rec in unstretched)
    half = load_records(DataSpec(str(coco_train), stretched_weight=0.5))
    assert all(np.all(rec.weights[rec.weights > 0] == (0.5 if rec.stretched else 1.0)) for rec in half)


def test_lspet_lr_swap_and_face_joints(lspet_train):
    data = json.loads(lspet_train.read_text())
    flagged = {a["id"] for a in data["annotations"] if a.get("teacher_lr_swap")}
    assert len(flagged) == 350  # data README: "350 of the 8,494 persons"
    dropped = load_records(DataSpec(str(lspet_train)))
    assert len(dropped) == 8494 - 350 and not any(r.ann_id in flagged for r in dropped)
    kept = {r.ann_id: r for r in load_records(DataSpec(str(lspet_train), lr_swap="keep"))}
    swapped = {r.ann_id: r for r in load_records(DataSpec(str(lspet_train), lr_swap="swap"))}
    some = sorted(flagged)[0]
    assert np.array_equal(swapped[some].keypoints, kept[some].keypoints[list(FLIP_INDICES)])
    # Face joints do not exist in LSP: weight 0 unless teacher pseudo-labels are asked for.
    assert all(r.weights[list(FACE_IDS)].max() == 0 for r in dropped)


def test_lspet_teacher_face_pseudo_labels(lspet_train):
    anns = {a["id"]: a for a in json.loads(lspet_train.read_text())["annotations"]}
    recs = load_records(DataSpec(str(lspet_train), teacher_face_min_score=0.5, teacher_face_weight=0.25,
                                 teacher_min_oks=0.5))
    with_face = [r for r in recs if r.weights[list(FACE_IDS)].max() > 0]
    assert with_face, "credible teachers exist"
    for r in with_face[:200]:
        a = anns[r.ann_id]
        teacher = np.asarray(a["teacher_keypoints"]).reshape(17, 3)
        assert a["teacher_oks"] >= 0.5 and not a["teacher_lr_swap"]
        for k in FACE_IDS:
            if r.weights[k] > 0:
                assert r.weights[k] == 0.25 and teacher[k, 2] >= 0.5
                assert np.allclose(r.keypoints[k, :2], teacher[k, :2])
            else:
                assert teacher[k, 2] < 0.5
    # Body joints keep the human labels and weight 1.
    assert all(np.all(r.weights[5:][r.keypoints[5:, 2] > 0] == 1.0) for r in with_face)


def test_clip_box():
    assert clip_box_xywh([-5, 10, 20, 30], 100, 100).tolist() == [0, 10, 19, 39]
    assert clip_box_xywh([10, 10, 0, 5], 100, 100) is None
    assert clip_box_xywh([95, 95, 50, 50], 100, 100).tolist() == [95, 95, 99, 99]


def _write(tmp_path, data, name="ann.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    (tmp_path / "images").mkdir(exist_ok=True)
    return path


@pytest.mark.parametrize("content,match", [
    ("{", "not valid JSON"),
    ({"images": []}, "needs 'images' and 'annotations'"),
    ({"images": [{"id": 1}], "annotations": []}, "'id' and 'file_name'"),
    ({"images": [{"id": 1, "file_name": "a.jpg"}],
      "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1], "keypoints": [0] * 10}]}, "10 keypoint values"),
])
def test_malformed_files(tmp_path, content, match):
    with pytest.raises(DatasetError, match=match):
        load_records(DataSpec(str(_write(tmp_path, content))))


def test_missing_images_and_files(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_records(DataSpec(str(tmp_path / "nope.json")))
    ann = {"images": [{"id": 1, "file_name": "gone.jpg", "width": 100, "height": 100}],
           "annotations": [{"id": 1, "image_id": 1, "bbox": [10, 10, 50, 50], "iscrowd": 0, "category_id": 1,
                            "keypoints": [20, 20, 2] + [0] * 48}]}
    with pytest.raises(DatasetError, match="missing, e.g. .*gone.jpg"):
        load_records(DataSpec(str(_write(tmp_path, ann))))
    with pytest.raises(DatasetError, match="lr_swap"):
        DataSpec("x.json", lr_swap="maybe")
