import json

import numpy as np
import pytest

from hrgcnet.analysis.evaluation import (keypoint_errors, load_eval_file, match_instances, meta_from_file_name, oks,
                                         parse_eval_json, restrict_to_results)
from hrgcnet.errors import DatasetError


def _result(image_id, kps, score=1.0):
    return {"image_id": image_id, "category_id": 1, "keypoints": list(np.asarray(kps, float).ravel()), "score": score}


def test_parse_summary_and_results(tmp_path):
    rec = parse_eval_json(json.dumps({"model": "hrgcnet-w32", "summary": {"AP": 0.5, "AP50": 0.8, "AP75": 0.4,
                                      "APM": None, "APL": 0.6, "AR": 0.55}, "input_size": "256x192"}), "a.json")
    assert rec.name == "hrgcnet-w32" and rec.summary["AP"] == 0.5 and rec.summary["APM"] is None
    assert rec.meta == {"model": "hrgcnet-w32", "input_size": "256x192"}
    flat = parse_eval_json(json.dumps({"AP": 0.1, "AP50": 0.2}), "flat.json")
    assert flat.summary["AP"] == 0.1 and flat.summary["AR"] is None and flat.name == "flat.json"
    res = [_result(1, np.zeros((17, 3)))]
    (tmp_path / "r.json").write_text(json.dumps(res))
    (tmp_path / "e.json").write_text(json.dumps({"AP": 0.3, "results": "r.json"}))
    rec = load_eval_file(tmp_path / "e.json")
    assert rec.results is not None and len(rec.results) == 1
    assert parse_eval_json(json.dumps(res), "list.json").summary is None


_KPS = [0.0] * 51
_PER_KP_OK = {"n": 3, "oks": 0.8, "acc50": 1.0, "acc75": 0.5}


@pytest.mark.parametrize("text,match", [
    ("{", "not valid JSON"), ("3", "expected a JSON object"), ('{"x": 1}', "no AP summary"),
    ('[{"image_id": 1}]', "needs image_id"),
    # valid JSON, wrong inside: a clear DatasetError, never a ValueError/TypeError/KeyError
    ('{"AP": "n/a"}', "AP must be a number in 0..1"), ('{"AP": 0.5, "AR": [1]}', "AR must be a number"),
    ('{"AP": 70.2}', "AP must be a number in 0..1"), ('{"AP": NaN}', "AP must be a number"),
    ('{"AP": true}', "AP must be a number"), ('{"summary": {"AP": {"x": 1}}}', "AP must be a number"),
    ('{"AP": 0.5, "per_keypoint": {"nose": 0.8}}', "per_keypoint entry 'nose' needs numbers n, oks"),
    ('{"AP": 0.5, "per_keypoint": {"nose": {"n": 3, "oks": 0.8}}}', "per_keypoint entry 'nose' needs"),
    ('{"AP": 0.5, "per_keypoint": {"nose": {"n": 3, "oks": "x", "acc50": 1, "acc75": 1}}}', "needs numbers"),
    ('{"AP": 0.5, "per_keypoint": {"nose": {"n": 3, "oks": 80, "acc50": 1, "acc75": 1}}}', "out of range"),
    (json.dumps([{"image_id": 1, "keypoints": 5, "score": 1}]), "keypoints must be a list"),
    (json.dumps([{"image_id": 1, "keypoints": ["a"] * 51, "score": 1}]), "keypoint value must be a number"),
    (json.dumps([{"image_id": 1, "keypoints": _KPS, "score": "high"}]), "score must be a number"),
    (json.dumps([{"image_id": [1], "keypoints": _KPS, "score": 1}]), "image_id must be"),
    (json.dumps({"AP": 0.5, "results": [{"image_id": 1, "keypoints": _KPS, "score": None}]}), "score must be"),
])
def test_bad_files(text, match):
    with pytest.raises(DatasetError, match=match):
        parse_eval_json(text, "bad.json")


def test_good_per_keypoint_and_summary_values_pass():
    text = json.dumps({"AP": 0, "AP50": 1, "APM": None, "per_keypoint": {"nose": _PER_KP_OK}})
    rec = parse_eval_json(text, "ok.json")
    assert rec.summary["AP"] == 0.0 and rec.summary["AP50"] == 1.0 and rec.per_keypoint == {"nose": _PER_KP_OK}


def test_results_file_named_in_a_summary_that_is_not_json(tmp_path):
    (tmp_path / "r.json").write_text("[{")
    (tmp_path / "e.json").write_text(json.dumps({"AP": 0.3, "results": "r.json"}))
    with pytest.raises(DatasetError, match="e.json: its results file r.json is not valid JSON"):
        load_eval_file(tmp_path / "e.json")


def test_restrict_to_results_keeps_the_covered_images():
    gt = {"images": [{"id": 1}, {"id": 2}, {"id": 3}],
          "annotations": [{"id": 10, "image_id": 1}, {"id": 11, "image_id": 2}, {"id": 12, "image_id": 2}]}
    sub = restrict_to_results(gt, [{"image_id": 2}, {"image_id": 2}, {"image_id": 3}])
    assert [i["id"] for i in sub["images"]] == [2, 3] and [a["id"] for a in sub["annotations"]] == [11, 12]
    assert len(gt["images"]) == 3  # the input is left as it was


def test_oks_and_matching():
    gt = np.zeros((17, 3))
    gt[:, 0], gt[:, 1], gt[:, 2] = np.arange(17) * 10, 50, 2
    gt[0, 2] = 0
    assert oks(gt, gt, 1000.0) == pytest.approx(1.0)
    assert oks(gt + [5, 0, 0], gt, 1000.0) < 1.0
    ann = {"annotations": [{"id": 7, "image_id": 1, "area": 1000.0, "num_keypoints": 16, "iscrowd": 0,
                            "keypoints": gt.ravel().tolist()},
                           {"id": 8, "image_id": 1, "area": 1000.0, "num_keypoints": 16, "iscrowd": 0,
                            "keypoints": (gt + [0, 400, 0]).ravel().tolist()}]}
    rows = match_instances([_result(1, gt + [3, 0, 0], 0.9)], ann)
    by_id = {r["ann_id"]: r for r in rows}
    assert by_id[7]["matched"] and 0 < by_id[7]["oks"] < 1 and not by_id[8]["matched"] and by_id[8]["oks"] == 0
    err = keypoint_errors(rows)
    assert err.shape == (1, 17) and np.isnan(err[0, 0]) and np.allclose(err[0, 1:], 3.0)


def test_oks_agrees_with_pycocotools(coco_val):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ann_file, _ = coco_val
    coco = COCO(str(ann_file))
    rng = np.random.default_rng(0)
    anns = [a for a in coco.dataset["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]][:10]
    results = []
    for a in anns:
        kps = np.asarray(a["keypoints"], float).reshape(17, 3)
        kps[:, :2] += rng.normal(0, 4, (17, 2))
        kps[:, 2] = 1
        results.append(_result(a["image_id"], kps))
    ev = COCOeval(coco, coco.loadRes(results), iouType="keypoints")
    ev.params.imgIds = sorted({a["image_id"] for a in anns})
    ev.evaluate()
    for r, a in zip(results, anns):
        ious = np.asarray(ev.computeOks(r["image_id"], 1))  # (detections, ground truths) of that image
        ours = oks(r["keypoints"], a["keypoints"], a["area"])
        assert 0 < ours < 1 and np.isclose(ious, ours, rtol=0, atol=1e-9).any(), (ours, ious)


def test_hrgcnet_eval_json_named_after_the_model():
    # `hrgcnet eval --json` prints only the AP keys; model and input size come from the file name
    text = json.dumps({"AP": 0.61, "AP50": 0.8, "AP75": 0.6, "APM": 0.5, "APL": 0.7, "AR": 0.65})
    rec = parse_eval_json(text, "hrgcnet-w32-table1_256x192.json")
    assert rec.meta == {"model": "hrgcnet-w32-table1", "input_size": "256x192"} and rec.summary["AR"] == 0.65
    assert meta_from_file_name("hrgcnet-w32.json") == {"model": "hrgcnet-w32"}
    assert meta_from_file_name("results.json") == {}
