import contextlib
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from hrgcnet.cli import main
from hrgcnet.errors import DatasetError, UsageError
from hrgcnet.evaluation.coco import (SUMMARY_KEYS, _ap_of_draw, _run_cocoeval, coco_from_dict, evaluate_coco,
                                     evaluate_subset, format_table, gt_boxes_by_image, limit_images, load_coco_gt,
                                     load_results, paired_bootstrap, per_keypoint_oks, predict_coco)
from hrgcnet.structures import KEYPOINT_NAMES


def gt_as_results(ann_path) -> list[dict]:
    """Ground truth turned into COCO results (unlabelled keypoints at the box centre, score 1)."""
    data = json.loads(ann_path.read_text())
    out = []
    for a in data["annotations"]:
        if a["iscrowd"] or a["num_keypoints"] == 0:
            continue
        kp = np.asarray(a["keypoints"], float).reshape(17, 3)
        x, y, w, h = a["bbox"]
        kp[kp[:, 2] == 0, :2] = (x + w / 2, y + h / 2)
        kp[:, 2] = 1.0
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(), "score": 1.0})
    return out


def perturbed(results, seed=0, sigma=4.0):
    rng = np.random.default_rng(seed)
    out = []
    for r in results:
        kp = np.asarray(r["keypoints"]).reshape(17, 3).copy()
        kp[:, :2] += rng.normal(0, sigma, (17, 2))
        out.append(dict(r, keypoints=kp.ravel().tolist(), score=float(rng.uniform(0.1, 1))))
    return out


def pycocotools_direct(results, ann_path) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_path))
        ev = COCOeval(gt, gt.loadRes(json.loads(json.dumps(results))), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return list(ev.stats[:6])


def test_ground_truth_scores_one(coco_val):
    ann, _ = coco_val
    res = gt_as_results(ann)
    summary = evaluate_coco(res, ann)
    assert list(summary) == list(SUMMARY_KEYS)
    assert all(v == 1.0 for v in summary.values())
    per_k = per_keypoint_oks(res, ann)
    assert list(per_k) == list(KEYPOINT_NAMES)
    assert all(v["n"] > 0 and v["oks"] == pytest.approx(1.0) and v["acc75"] == 1.0 for v in per_k.values())


def test_perturbed_results_match_pycocotools(coco_val, tmp_path):
    ann, _ = coco_val
    res = perturbed(gt_as_results(ann))
    summary = evaluate_coco(res, ann)
    direct = pycocotools_direct(res, ann)
    assert [summary[k] for k in SUMMARY_KEYS] == pytest.approx(direct, abs=1e-12)
    assert 0.2 < summary["AP"] < 0.9  # really perturbed
    path = tmp_path / "res.json"
    path.write_text(json.dumps(res))
    assert evaluate_coco(path, ann) == summary
    per_k = per_keypoint_oks(res, ann)
    # Face keypoints (small sigmas) suffer most from the same pixel noise.
    assert per_k["nose"]["oks"] < per_k["left_hip"]["oks"] < 1.0
    table = format_table(summary, per_k)
    assert "AP50" in table and "right_ankle" in table


def test_a_subset_is_scored_on_its_own_images(coco_val, shared_data):
    """val.json's persons inside dev.json's predictions: perfect on val.json's images, perturbed on the rest.
    The val.json subset scores exactly what its own predictions score alone (1.0); the whole file less."""
    dev, val = shared_data / "coco" / "dev.json", coco_val[0]
    val_images = {img["id"] for img in json.loads(val.read_text())["images"]}
    results = [r if r["image_id"] in val_images else perturbed([r], sigma=8.0)[0] for r in gt_as_results(dev)]
    assert evaluate_subset(results, val) == evaluate_coco([r for r in results if r["image_id"] in val_images], val)
    assert evaluate_subset(results, val)["AP"] == 1.0 and evaluate_coco(results, dev)["AP"] < 0.9


def test_empty_and_bad_results(coco_val, tmp_path):
    ann, _ = coco_val
    assert evaluate_coco([], ann) == {k: 0.0 for k in SUMMARY_KEYS}
    with pytest.raises(DatasetError, match="not in the annotation file"):
        evaluate_coco([{"image_id": -7, "category_id": 1, "keypoints": [0] * 51, "score": 1}], ann)
    with pytest.raises(DatasetError, match="keypoint values"):
        evaluate_coco([{"image_id": 1, "keypoints": [0] * 3, "score": 1}], ann)
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(DatasetError, match="not valid JSON"):
        evaluate_coco(tmp_path / "bad.json", ann)
    with pytest.raises(DatasetError, match="not found"):
        evaluate_coco([], tmp_path / "missing.json")


def test_gt_box_mode_feeds_every_person(coco_val):
    ann, images = coco_val
    coco = limit_images(load_coco_gt(ann), 25)
    calls = []

    def fake_estimator(image, boxes=None, box_scores=None, **kw):
        calls.append((str(image), np.asarray(boxes), np.asarray(box_scores)))
        return SimpleNamespace(to_coco_json=lambda image_id: [])

    predict_coco(fake_estimator, coco, images, boxes="gt")
    expected = {}
    for a in coco.dataset["annotations"]:
        if not a["iscrowd"]:
            x, y, w, h = a["bbox"]
            expected.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    names = {img["id"]: img["file_name"] for img in coco.dataset["images"]}
    assert len(calls) == len(expected)
    # Persons without keypoints are fed too (the standard protocol uses every non-crowd GT box).
    assert any(a["num_keypoints"] == 0 and not a["iscrowd"] for a in coco.dataset["annotations"])
    for path, boxes, scores in calls:
        image_id = next(i for i, n in names.items() if path.endswith(n))
        assert np.allclose(boxes, expected[image_id]) and np.all(scores == 1)
    assert set(gt_boxes_by_image(coco)) == set(expected)


def test_missing_images_raise(coco_val, tmp_path):
    ann, images = coco_val
    data = json.loads(ann.read_text())
    data["images"][0]["file_name"] = "not_there.jpg"
    data["annotations"].append({"id": 1, "image_id": data["images"][0]["id"], "bbox": [1, 1, 10, 10],
                                "iscrowd": 0, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0,
                                "area": 100})
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="missing .* not_there.jpg"):
        predict_coco(lambda *a, **k: None, path, images, boxes="gt")


def test_cli_scores_a_results_file(coco_val, tmp_path, capsys):
    ann, _ = coco_val
    res = perturbed(gt_as_results(ann), seed=1)
    path = tmp_path / "res.json"
    path.write_text(json.dumps(res))
    assert main(["eval", "--ann", str(ann), "--results", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == list(SUMMARY_KEYS)
    assert [out[k] for k in SUMMARY_KEYS] == pytest.approx(pycocotools_direct(res, ann), abs=1e-12)
    assert main(["eval", "--ann", str(ann), "--results", str(path)]) == 0
    text = capsys.readouterr().out
    assert "AP75" in text and "left_wrist" in text
    assert main(["eval", "--ann", str(tmp_path / "nope.json"), "--json"]) == 2
    assert "annotation file not found" in capsys.readouterr().err


def test_cli_runs_a_model(coco_val, tmp_path, capsys):
    ann, images = coco_val
    out_path = tmp_path / "pred.json"
    assert main(["eval", "--ann", str(ann), "--model", "hrgcnet-w32", "--weights", "none", "--input-size",
                 "64x64", "--max-images", "4", "--no-flip", "--device", "cpu", "--json", "--out", str(out_path)]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert list(summary) == list(SUMMARY_KEYS) and all(0.0 <= v <= 1.0 for v in summary.values() if v is not None)
    preds = json.loads(out_path.read_text())
    coco = limit_images(load_coco_gt(ann), 4)
    n_persons = sum(len(v) for v in gt_boxes_by_image(coco).values())
    assert 0 < len(preds) <= n_persons and all(len(p["keypoints"]) == 51 for p in preds)
    assert "untrained" in captured.err


def drawn_file(ann_path, results, draw) -> tuple[dict, list[dict]]:
    """The annotation file holding image ``draw[j]`` as new image ``j + 1`` (repeats copied), and the results."""
    data = json.loads(ann_path.read_text())
    ids = sorted(img["id"] for img in data["images"])
    images = {img["id"]: img for img in data["images"]}
    out = dict(data, images=[], annotations=[])
    new_results = []
    for j, i in enumerate(draw):
        old = ids[i]
        out["images"].append(dict(images[old], id=j + 1))
        out["annotations"] += [dict(a, id=len(out["annotations"]) + k + 1, image_id=j + 1)
                               for k, a in enumerate(a for a in data["annotations"] if a["image_id"] == old)]
        new_results += [dict(r, image_id=j + 1) for r in results if r["image_id"] == old]
    return out, new_results


def test_a_bootstrap_draw_scores_like_a_file_of_the_drawn_images(coco_val):
    ann, _ = coco_val
    res = perturbed(gt_as_results(ann), seed=3, sigma=6.0)
    ev = _run_cocoeval(load_coco_gt(ann), load_results(res))
    n = len(ev.params.imgIds)
    rng = np.random.default_rng(0)
    for draw in (np.arange(n), rng.integers(0, n, n), rng.integers(0, n, n)):
        data, drawn_res = drawn_file(ann, res, draw)
        expected = evaluate_coco(drawn_res, coco_from_dict(data))["AP"]
        assert _ap_of_draw(ev, draw) == pytest.approx(expected, abs=1e-12)
    assert len(set(draw)) < n  # the last draw repeats images


def test_paired_bootstrap(coco_val):
    ann, _ = coco_val
    exact = gt_as_results(ann)
    noisy = perturbed(exact, seed=1, sigma=8.0)
    better = paired_bootstrap(exact, noisy, ann, num_samples=200)
    assert better["AP_a"] == 1.0 and better["AP_b"] == pytest.approx(evaluate_coco(noisy, ann)["AP"])
    assert better["delta"] > 0 and 0 < better["ci95"][0] <= better["delta"] <= better["ci95"][1]
    assert better["share_a_not_better"] == 0.0 and better["num_samples"] == 200
    worse = paired_bootstrap(noisy, exact, ann, num_samples=200)
    assert worse["delta"] == -better["delta"]
    assert worse["ci95"] == pytest.approx([-better["ci95"][1], -better["ci95"][0]], abs=1e-12)
    same = paired_bootstrap(noisy, noisy, ann, num_samples=50)
    assert same["delta"] == 0 and same["ci95"] == [0, 0] and same["share_a_not_better"] == 1.0
    # Two noisy result lists of one quality: the interval spans 0 and is reproducible with the seed.
    other = perturbed(exact, seed=2, sigma=8.0)
    tie = paired_bootstrap(noisy, other, ann, num_samples=200, seed=5)
    assert tie["ci95"][0] < 0 < tie["ci95"][1]
    assert paired_bootstrap(noisy, other, ann, num_samples=200, seed=5) == tie
    with pytest.raises(UsageError, match="bootstrap"):
        paired_bootstrap(noisy, other, ann, num_samples=0)
    with pytest.raises(DatasetError, match="non-empty"):
        paired_bootstrap([], other, ann)


def test_cli_compares_with_a_baseline(coco_val, tmp_path, capsys, monkeypatch):
    ann, _ = coco_val
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(json.dumps(gt_as_results(ann)))
    old.write_text(json.dumps(perturbed(gt_as_results(ann), seed=1, sigma=8.0)))
    args = ["eval", "--ann", str(ann), "--results", str(new), "--compare", str(old), "--bootstrap", "100"]
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["compare"] == paired_bootstrap(new, old, ann, num_samples=100)
    assert main(args) == 0
    assert f"AP 1.000 vs {out['compare']['AP_b']:.3f}" in capsys.readouterr().out
    # Bad options fail before any model runs.
    monkeypatch.setattr("hrgcnet.evaluation.coco.predict_coco", lambda *a, **k: pytest.fail("predicted before checking"))
    model_args = ["eval", "--ann", str(ann), "--weights", "none", "--device", "cpu", "--json"]
    assert main(model_args + ["--compare", str(old), "--bootstrap", "0"]) == 2
    assert "--bootstrap must be >= 1" in capsys.readouterr().err
    assert main(model_args + ["--compare", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


GOOD_ROW = {"image_id": 1, "category_id": 1, "keypoints": [1.0] * 51, "score": 0.5}


@pytest.mark.parametrize("bad, message", [
    ({"keypoints": None}, "result 1: keypoints must be a list of 51 numbers"),
    ({"keypoints": 5}, "result 1: keypoints must be a list of 51 numbers"),
    ({"keypoints": "x" * 51}, "result 1: keypoints must be a list of 51 numbers"),
    ({"keypoints": [1.0] * 50 + [None]}, "result 1: keypoint value must be a number, got 'None'"),
    ({"keypoints": [1.0] * 50 + ["a"]}, "result 1: keypoint value must be a number, got 'a'"),
    ({"keypoints": [1.0] * 50 + [float("nan")]}, "result 1: keypoint values must be finite"),
    ({"score": None}, "result 1: score must be a number"),
    ({"score": "high"}, "result 1: score must be a number"),
    ({"score": float("inf")}, "result 1: score must be finite"),
    ({"image_id": [1]}, "result 1: image_id must be a number or a string"),
    ({"image_id": None}, "result 1: image_id must be a number or a string"),
    ({"category_id": [1]}, "result 1: category_id must be a number"),
])
def test_load_results_checks_value_types(bad, message):
    with pytest.raises(DatasetError) as info:
        load_results([GOOD_ROW, {**GOOD_ROW, **bad}])
    assert message in str(info.value)


def _gt_results_files(ann, tmp_path):
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(json.dumps(gt_as_results(ann)))
    old.write_text(json.dumps(perturbed(gt_as_results(ann), seed=1, sigma=8.0)))
    return new, old


def test_cli_max_images_restricts_results_and_baseline(coco_val, tmp_path, capsys, monkeypatch):
    ann, _ = coco_val
    new, old = _gt_results_files(ann, tmp_path)
    coco5 = limit_images(load_coco_gt(ann), 5)
    keep = set(coco5.getImgIds())
    assert main(["eval", "--ann", str(ann), "--results", str(new), "--compare", str(old), "--max-images", "5",
                 "--bootstrap", "20", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    new5 = [r for r in json.loads(new.read_text()) if r["image_id"] in keep]
    old5 = [r for r in json.loads(old.read_text()) if r["image_id"] in keep]
    assert {k: out[k] for k in SUMMARY_KEYS} == evaluate_coco(new5, coco5)
    assert out["compare"] == paired_bootstrap(new5, old5, coco5, num_samples=20)
    n = len(json.loads(new.read_text()))
    assert f"note: --results {new}: left out {n - len(new5)} of {n} rows" in captured.err
    assert f"note: --compare {old}: left out" in captured.err
    # A baseline with ids not in the annotation file is refused before the model runs.
    monkeypatch.setattr("hrgcnet.evaluation.coco.predict_coco", lambda *a, **k: pytest.fail("predicted before checking"))
    old.write_text(json.dumps([{**GOOD_ROW, "image_id": -5}]))
    assert main(["eval", "--ann", str(ann), "--weights", "none", "--device", "cpu", "--max-images", "5",
                 "--compare", str(old)]) == 2
    assert "1 result image id(s) are not in the annotation file, e.g. -5" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--max-images", "0"], "--max-images must be >= 1, got 0"),
    (["--max-images", "-2"], "--max-images must be >= 1, got -2"),
    (["--out", "{tmp}"], "is a folder"),
    (["--out", "{old}", "--compare", "{old}"], "is the --compare file; it would be replaced"),
    (["--out", "{ann}"], "is the --ann file; it would be replaced"),
    (["--out", "{tmp}/a_file/x.json"], "cannot create its folder"),
])
def test_cli_bad_options_fail_before_predicting(coco_val, tmp_path, capsys, monkeypatch, extra, message):
    ann, _ = coco_val
    _, old = _gt_results_files(ann, tmp_path)
    (tmp_path / "a_file").write_text("")
    monkeypatch.setattr("hrgcnet.evaluation.coco.predict_coco", lambda *a, **k: pytest.fail("predicted before checking"))
    extra = [e.format(tmp=tmp_path, old=old, ann=ann) for e in extra]
    before = old.read_bytes()
    assert main(["eval", "--ann", str(ann), "--weights", "none", "--device", "cpu", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert old.read_bytes() == before


@pytest.mark.parametrize("extra", [["--out", "x.json"], ["--model", "hrnet-w32"], ["--weights", "none"],
                                   ["--boxes", "gt"], ["--input-size", "64x64"]])
def test_cli_results_refuses_model_run_options(coco_val, tmp_path, capsys, extra):
    ann, _ = coco_val
    new, _ = _gt_results_files(ann, tmp_path)
    assert main(["eval", "--ann", str(ann), "--results", str(new), *extra]) == 2
    assert f"{extra[0]} only apply when a model runs" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_cli_out_written_atomically(coco_val, tmp_path, capsys, monkeypatch, disk_full):
    ann, _ = coco_val
    monkeypatch.setattr("hrgcnet.evaluation.coco.predict_coco", lambda *a, **k: gt_as_results(ann))
    out = tmp_path / "pred.json"
    assert main(["eval", "--ann", str(ann), "--weights", "none", "--device", "cpu", "--json", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == gt_as_results(ann)
    assert json.loads(capsys.readouterr().out)["AP"] == 1.0
    disk_full(tmp_path)
    assert main(["eval", "--ann", str(ann), "--weights", "none", "--device", "cpu", "--json", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {out}: No space left on device" in err and "Traceback" not in err, err
    assert json.loads(out.read_text()) == gt_as_results(ann)  # the earlier file, intact
    assert [p.name for p in tmp_path.iterdir()] == ["pred.json"]


def test_limit_images_refuses_a_negative_count(coco_val):
    coco = load_coco_gt(coco_val[0])
    assert limit_images(coco, 0) is coco and limit_images(coco, None) is coco
    with pytest.raises(UsageError, match="max_images must be >= 0, got -1"):
        limit_images(coco, -1)


@pytest.mark.parametrize("input_hw, floor", [((128, 96), 0.85), ((256, 192), 0.95)])
def test_ground_truth_through_crops_and_codec_scores_near_one(coco_val, input_hw, floor):
    """What a perfect network scores: each labelled person's keypoints mapped into its crop, encoded as training
    targets and decoded as predictions by the estimator. Only the heatmap grid's rounding costs AP (measured
    0.89 at 128x96, 0.98 at 256x192); an error in the crop geometry or the codec would cost far more."""
    import torch

    from hrgcnet.codecs import MSRAHeatmap
    from hrgcnet.structures.bbox import get_affine_transform, transform_points
    from hrgcnet.pipeline import PoseEstimator

    ann, _ = coco_val
    data = json.loads(ann.read_text())
    sizes = {img["id"]: (img["height"], img["width"]) for img in data["images"]}
    est = PoseEstimator.from_model(torch.nn.Identity(), input_hw=input_hw, flip_test=False)
    codec = MSRAHeatmap(input_hw, (input_hw[0] // 4, input_hw[1] // 4))
    results = []
    for a in data["annotations"]:
        if a["iscrowd"] or a["num_keypoints"] == 0:
            continue
        x, y, w, h = a["bbox"]
        _, center, scale = est.crops(np.zeros((*sizes[a["image_id"]], 3), np.uint8), np.array([[x, y, x + w, y + h]]))
        kp = np.asarray(a["keypoints"], float).reshape(17, 3)
        in_crop = transform_points(kp[:, :2], get_affine_transform(center[0], scale[0], 0, input_hw[::-1]))
        heatmaps, _ = codec.encode(in_crop, kp[:, 2])
        pred = est.decode(heatmaps[None], center, scale, sizes[a["image_id"]])[0]
        results.append({"image_id": a["image_id"], "category_id": 1, "keypoints": pred.ravel().tolist(), "score": 1.0})
    assert evaluate_coco(results, ann)["AP"] >= floor
