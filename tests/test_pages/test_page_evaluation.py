import json

import pytest

from page_helpers import by_label, chart_traces, no_exception, trace_array


def test_load_files(page):
    at = page("5_evaluation.py").run()
    no_exception(at)
    summary = {"model": "hrgcnet-w32", "input_size": "256x192", "summary": {"AP": 0.7, "AP50": 0.9, "AR": 0.75}}
    at.file_uploader[0].set_value([("e.json", json.dumps(summary).encode(), "application/json"),
                                   ("bad.json", b"{", "application/json")]).run()
    no_exception(at)
    assert any("bad.json is not valid JSON" in e.value for e in at.error)
    table = at.dataframe[0].value.set_index("evaluation")
    assert table.loc["file: e.json", "AP"] == 70.0 and table.loc["file: e.json", "AR"] == 75.0
    assert at.session_state["measured_ap"] == {"256x192": {"hrgcnet-w32": {"ap": 70.0, "source": "file: e.json"}}}


def test_run_on_the_val_split(page, coco_val):
    at = page("5_evaluation.py").run()
    no_exception(at)
    by_label(at.selectbox, "Input size").set_value((128, 96))
    by_label(at.slider, "Images (with persons, file order)").set_value(2)
    by_label(at.checkbox, "Flip test").set_value(False)
    by_label(at.multiselect, "Models").set_value(["hrgcnet-w32"])
    at.button[0].click().run()
    no_exception(at)
    table = at.dataframe[0].value
    from hrgcnet.models.weights import default_weights_path

    untrained = default_weights_path("hrgcnet-w32") is None
    assert list(table["model"]) == ["hrgcnet-w32"] and table["images"][0] == 2 and table["untrained"][0] == untrained
    assert 0 <= table["AP"][0] <= 100
    if untrained:
        assert at.session_state["measured_ap"] == {}  # untrained runs are not plotted beside the paper
    else:
        assert set(at.session_state["measured_ap"]["128x96"]) == {"hrgcnet-w32"}
    names = [t.get("name") for traces in chart_traces(at) for t in traces]
    assert "run: hrgcnet-w32 128x96 · 2 images · no flip" in names  # per-keypoint bars and OKS histogram
    assert list(table["flip_test"]) == [False]


def test_two_models_on_a_few_images_get_a_bootstrap_interval(page, coco_val):
    """Two models scored on the same 3 images: the page says whether those images can rank them."""
    at = page("5_evaluation.py").run()
    by_label(at.selectbox, "Input size").set_value((128, 96))
    by_label(at.slider, "Images (with persons, file order)").set_value(3)
    by_label(at.checkbox, "Flip test").set_value(False)
    by_label(at.multiselect, "Models").set_value(["hrnet-w32", "hrgcnet-w32"])
    at.button[0].click().run()
    no_exception(at)
    pair = at.dataframe[1].value
    assert list(pair.columns) == ["A", "B", "images", "AP A − B", "95% interval", "ranked?"]
    assert len(pair) == 1 and pair["images"][0] == 3
    low, high = (float(v) for v in pair["95% interval"][0].strip("[]").split(","))
    assert low <= pair["AP A − B"][0] <= high
    assert pair["ranked?"][0] == ("no: the interval holds 0" if low <= 0 <= high else
                                  "A better" if low > 0 else "B better")
    assert any("Can these images rank them?" in m.value for m in at.markdown)


def test_learning_curves_of_the_default_weights(page):
    from hrgcnet.analysis.curves import read_curves_csv

    at = page("5_evaluation.py").run()
    no_exception(at)
    traces = chart_traces(at)[0]  # the first chart of the page
    committed = read_curves_csv()
    # one line per model and split (val.json; dev.json from the campaign on), named "model size, split"
    assert {t["name"] for t in traces} == {f"{r['model']} {r['input_size']}, {r['split']}" for r in committed}
    for t in traces:
        rows = [r for r in committed if f"{r['model']} {r['input_size']}, {r['split']}" == t["name"]]
        assert list(trace_array(t, "x")) == [r["samples_seen"] for r in rows]
        assert list(trace_array(t, "y")) == pytest.approx([100 * r["AP"] for r in rows])
        # the tooltip shows percent like the axis, and the cycle that a step (restarting each cycle) belongs to
        assert "AP50 (%)" in t["hovertemplate"] and "step (within its cycle)" in t["hovertemplate"]
        custom = trace_array(t, "customdata").astype(float)
        cycles, steps, ap50 = custom[:, 0], custom[:, 1], custom[:, 2]
        assert list(steps) == [r["step"] for r in rows] and list(ap50) == pytest.approx([100 * r["AP50"] for r in rows])
        assert cycles[0] == 1 and all(c == p + (s <= q) for c, p, s, q in zip(cycles[1:], cycles, steps[1:], steps))


def write_tiny_coco(folder, person_images: int, empty_images: int = 0):
    """A small COCO keypoint file (one person per image, ``empty_images`` images without anyone first) with its
    images; returns ``(annotation file, image folder, [per-image person keypoints])``."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    images, anns, people = [], [], []
    for i in range(empty_images + person_images):
        images.append({"id": i + 1, "file_name": f"im{i + 1}.png", "width": 96, "height": 128})
        cv2.imwrite(str(folder / f"im{i + 1}.png"), rng.integers(0, 255, (128, 96, 3), dtype=np.uint8))
        if i < empty_images:
            continue
        kps = np.c_[rng.uniform(20, 70, 17), rng.uniform(20, 110, 17), np.full(17, 2.0)]
        people.append(kps)
        anns.append({"id": 100 + i, "image_id": i + 1, "category_id": 1, "bbox": [15, 15, 60, 100], "area": 6000.0,
                     "iscrowd": 0, "num_keypoints": 17, "keypoints": kps.ravel().tolist()})
    ann = folder / "tiny.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns,
                               "categories": [{"id": 1, "name": "person"}]}))
    return ann, folder, people


def use_split(at, ann, img_dir):
    by_label(at.text_input, "Annotation file").set_value(str(ann))
    by_label(at.text_input, "Image folder").set_value(str(img_dir))
    return at.run()


def upload(at, *files):
    """Set the (only) uploader to ``files`` ``(name, object or bytes)`` and run."""
    at.file_uploader[0].set_value([(n, d if isinstance(d, bytes) else json.dumps(d).encode(), "application/json")
                                   for n, d in files]).run()
    no_exception(at)
    return at


def table_keys(at) -> list[str]:
    return list(at.dataframe[0].value["evaluation"]) if at.dataframe else []


def test_a_removed_upload_leaves_the_table_and_fig3(page):
    at = page("5_evaluation.py").run()
    a = ("hrgcnet-w32_256x192.json", {"AP": 0.7})
    b = ("hrnet-w32_256x192.json", {"AP": 0.6})
    upload(at, a, b)
    assert table_keys(at) == ["file: hrgcnet-w32_256x192.json", "file: hrnet-w32_256x192.json"]
    upload(at, b)
    assert table_keys(at) == ["file: hrnet-w32_256x192.json"]
    assert set(at.session_state["measured_ap"]["256x192"]) == {"hrnet-w32"}
    upload(at)
    assert table_keys(at) == [] and at.session_state["measured_ap"] == {}


def test_clear_results_also_empties_the_uploader(page):
    at = page("5_evaluation.py").run()
    upload(at, ("hrgcnet-w32_256x192.json", {"AP": 0.7}))
    assert table_keys(at) == ["file: hrgcnet-w32_256x192.json"]
    by_label(at.button, "Clear results").click().run()
    no_exception(at)
    assert table_keys(at) == [] and at.session_state["measured_ap"] == {}
    assert not at.file_uploader[0].value
    at.run()  # a later rerun does not bring the file back
    assert table_keys(at) == [] and at.session_state["measured_ap"] == {}


def test_files_of_models_without_trained_weights_stay_out_of_fig3(page):
    """``hrgcnet eval --json`` does not say whether the model was trained: a model without committed weights is
    taken as untrained and not drawn beside the paper."""
    from hrgcnet.analysis.common import has_trained_weights

    assert has_trained_weights("hrgcnet-w32") and not has_trained_weights("hrgcnet-w48")
    at = page("5_evaluation.py").run()
    upload(at, ("hrgcnet-w32_256x192.json", {"AP": 0.7}), ("hrgcnet-w48_256x192.json", {"AP": 0.001}),
           ("flagged_hrgcnet-w32_384x288.json", {"AP": 0.002, "untrained": True}))
    assert at.session_state["measured_ap"] == {
        "256x192": {"hrgcnet-w32": {"ap": 70.0, "source": "file: hrgcnet-w32_256x192.json"}}}


def test_a_result_list_is_scored_on_the_images_it_covers(page, tmp_path):
    """A result file of ``hrgcnet eval --max-images 1``: perfect on its one image, not penalised for the others."""
    ann, img_dir, people = write_tiny_coco(tmp_path, person_images=3)
    perfect = [{"image_id": 1, "category_id": 1, "keypoints": people[0].ravel().tolist(), "score": 1.0}]
    at = use_split(page("5_evaluation.py").run(), ann, img_dir)
    upload(at, ("max_images_1.json", perfect))
    row = at.dataframe[0].value.set_index("evaluation").loc["file: max_images_1.json"]
    assert row["AP"] == pytest.approx(100.0) and row["AR"] == pytest.approx(100.0) and row["images"] == 1


def test_one_upload_failing_unexpectedly_is_an_error_naming_it(page, tmp_path, monkeypatch):
    """A safety net: whatever a file breaks in the scoring, the page names the file and the error, other files stay."""
    import hrgcnet.evaluation.coco

    def broken(*args, **kwargs):
        raise ValueError("unexpected")

    ann, img_dir, people = write_tiny_coco(tmp_path, person_images=1)
    monkeypatch.setattr(hrgcnet.evaluation.coco, "evaluate_coco", broken)
    at = use_split(page("5_evaluation.py").run(), ann, img_dir)
    results = [{"image_id": 1, "category_id": 1, "keypoints": people[0].ravel().tolist(), "score": 0.123456}]
    upload(at, ("odd_results.json", results), ("hrgcnet-w32_256x192.json", {"AP": 0.7}))
    assert [e.value for e in at.error] == ["odd_results.json: could not be read (ValueError: unexpected)"]
    assert table_keys(at) == ["file: hrgcnet-w32_256x192.json"]


def test_an_annotation_file_with_one_image_and_flip_and_no_flip_runs(page, tmp_path):
    ann, img_dir, _ = write_tiny_coco(tmp_path, person_images=1, empty_images=1)
    at = use_split(page("5_evaluation.py").run(), ann, img_dir)
    no_exception(at)
    assert "Images (with persons, file order)" not in [s.label for s in at.slider]
    by_label(at.selectbox, "Input size").set_value((128, 96))
    by_label(at.multiselect, "Models").set_value(["hrgcnet-w32"])
    for flip in (False, True):
        by_label(at.checkbox, "Flip test").set_value(flip)
        by_label(at.button, "Run evaluation").click().run()
        no_exception(at)
    table = at.dataframe[0].value
    assert list(table["evaluation"]) == ["run: hrgcnet-w32 128x96 · 1 images · no flip",
                                         "run: hrgcnet-w32 128x96 · 1 images · flip"]
    assert list(table["flip_test"]) == [False, True] and list(table["images"]) == [1, 1]


def test_an_annotation_file_without_persons(page, tmp_path):
    ann, img_dir, _ = write_tiny_coco(tmp_path, person_images=0, empty_images=2)
    at = use_split(page("5_evaluation.py").run(), ann, img_dir)
    no_exception(at)
    assert any("no image with a (non-crowd) person box" in w.value for w in at.warning)
    assert by_label(at.button, "Run evaluation").disabled
