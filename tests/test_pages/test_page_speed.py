from page_helpers import by_label, no_exception


def test_benchmark_small(page):
    at = page("6_speed.py").run()
    no_exception(at)
    assert any("Run benchmark" in i.value for i in at.info)
    by_label(at.multiselect, "Input sizes").set_value([(128, 96)])
    by_label(at.slider, "Timed repeats").set_value(1)
    at.button[0].click().run()
    no_exception(at)
    results = at.dataframe[0].value
    assert list(results["model"]) == ["hrnet-w32", "hrgcnet-w32"]
    assert (results["median ms"] > 0).all() and set(results["input size"]) == {"128x96"}
    ratio = at.dataframe[1].value
    assert ratio["pair"][0] == "HRGCNet-W32 / HRNet-W32" and ratio["latency ratio"][0] > 0


def test_every_press_measures_afresh(page):
    """No timing is reused from an earlier press or another session: one table is one run (stamped)."""
    def press():
        at = page("6_speed.py").run()
        by_label(at.multiselect, "Models").set_value(["hrgcnet-w32"])
        by_label(at.multiselect, "Input sizes").set_value([(128, 96)])
        by_label(at.slider, "Timed repeats").set_value(1)
        by_label(at.slider, "Warm-up forwards").set_value(0)
        at.button[0].click().run()
        no_exception(at)
        return at

    first, second = press(), press()  # two sessions, the same setting
    a, b = first.dataframe[0].value, second.dataframe[0].value
    assert "measured at" in a.columns and any("Measured in one run started at" in c.value for c in second.caption)
    assert a["median ms"][0] != b["median ms"][0]  # measured twice, not served from a cache


def test_recorded_runs_one_per_machine(page):
    """The recorded `hrgcnet bench --infer` runs (docs/inference/bench_infer-*.json, one per kind of CPU) are
    offered by machine, and the chosen one's network and frame tables are shown with its machine and command."""
    import json
    from pathlib import Path

    recorded = sorted((Path(__file__).resolve().parents[2] / "docs" / "inference").glob("bench_infer-*.json"))
    assert len(recorded) >= 2
    at = page("6_speed.py").run()
    no_exception(at)
    choice = by_label(at.radio, "Recorded on")
    assert list(choice.options) == [p.stem.removeprefix("bench_infer-") for p in recorded]
    for path in recorded:
        data = json.loads(path.read_text())
        at = choice.set_value(path).run()
        no_exception(at)
        choice = by_label(at.radio, "Recorded on")
        assert any(data["machine"]["cpu"] in c.value and data["command"] in c.value for c in at.caption)
        rows = at.table[0].value
        assert len(rows) == len(data["rows"]) and len(at.table[1].value) == len(data["frames"])
