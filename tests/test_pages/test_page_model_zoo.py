from page_helpers import chart_traces, no_exception


def test_complexity_table_and_fig3(page):
    at = page("1_model_zoo.py").run()
    no_exception(at)
    table = at.dataframe[0].value
    row = table[(table["model"] == "hrnet-w32") & (table["input size"] == "256x192")].iloc[0]
    assert row["params"] == 28_536_113 and row["GFLOPs"] == 7.12 and row["paper params (M)"] == 28.5
    t1 = table[(table["model"] == "hrgcnet-w32-table1") & (table["input size"] == "256x192")].iloc[0]
    assert t1["params"] == 29_600_801 and t1["paper GFLOPs"] == 7.11
    assert set(table["input size"]) == {"256x192", "384x288"} and len(table) == 12
    text = " ".join(m.value for m in at.markdown)
    assert "28,560,981" in text and "29,600,801" in text  # the inconsistency explained with live numbers
    traces = chart_traces(at)[0]
    assert {t["name"] for t in traces} == {"paper: other", "paper: HRNet", "paper: HRGCNet", "ours: measured GFLOPs (no AP)"}
    ours = next(t for t in traces if t["name"].startswith("ours"))
    assert 7.12 in ours["x"] and 6.763 in ours["x"]
    assert any("No measured AP at 256x192 yet" in i.value for i in at.info)
    from hrgcnet.analysis.common import untrained_message

    assert any("Untrained weights" in w.value for w in at.warning) == (untrained_message() is not None)


def test_measured_ap_is_drawn_apart_from_the_paper(page):
    at = page("1_model_zoo.py")
    at.session_state["measured_ap"] = {"256x192": {"hrgcnet-w32": {"ap": 70.0, "source": "val.json, 39 images"}}}
    at.run()
    no_exception(at)
    ours = [t for t in chart_traces(at)[0] if t["name"] == "ours: measured AP"]
    assert len(ours) == 1 and ours[0]["y"] == [70.0] and ours[0]["x"] == [6.763]
    assert any("HRGCNet-W32 70.0 AP" in s.value for s in at.success)


def test_measured_ap_at_another_size_is_listed_not_drawn(page):
    at = page("1_model_zoo.py")
    at.session_state["measured_ap"] = {"128x96": {"hrgcnet-w32": {"ap": 18.8, "source": "val.json, 39 images"}}}
    at.run()
    no_exception(at)
    assert not [t for t in chart_traces(at)[0] if t["name"] == "ours: measured AP"]
    assert any("HRGCNet-W32 18.8 AP at 128x96" in i.value for i in at.info)
    assert any("No measured AP at 256x192 yet" in i.value for i in at.info)
