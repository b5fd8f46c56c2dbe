import json

import numpy as np
import pytest

from hrgcnet.analysis.evaluation import (keypoint_errors, load_eval_file, match_instances, meta_from_file_name, oks,
                                         parse_eval_json)
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


@pytest.mark.parametrize("text,match", [("{", "not valid JSON"), ("3", "expected a JSON object"),
                                        ('{"x": 1}', "no AP summary"), ('[{"image_id": 1}]', "needs image_id")])
def test_bad_files(text, match):
    with pytest.raises(DatasetError, match=match):
        parse_eval_json(text, "bad.json")


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
