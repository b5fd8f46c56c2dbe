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
    assert "run: hrgcnet-w32 128x96 · 2 images" in names  # per-keypoint bars and OKS histogram


def test_learning_curves_of_the_default_weights(page):
    from hrgcnet.analysis.curves import read_curves_csv

    at = page("5_evaluation.py").run()
    no_exception(at)
    traces = chart_traces(at)[0]  # the first chart of the page
    committed = read_curves_csv()
    assert {t["name"] for t in traces} == {f"{r['model']} {r['input_size']}" for r in committed}
    for t in traces:
        rows = [r for r in committed if f"{r['model']} {r['input_size']}" == t["name"]]
        assert list(trace_array(t, "x")) == [r["samples_seen"] for r in rows]
        assert list(trace_array(t, "y")) == pytest.approx([100 * r["AP"] for r in rows])
