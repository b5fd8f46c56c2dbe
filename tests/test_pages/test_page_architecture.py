from page_helpers import by_label, no_exception


def test_blocks_stages_and_breakdown(page):
    at = page("2_architecture.py").run()
    no_exception(at)
    counts = at.table[0].value.set_index("model")
    assert counts.loc["HRNet-W32", "GC blocks"] == 0 and counts.loc["HRGCNet-W32", "GC blocks"] == 36
    assert counts.loc["HRGCNet-W32", "lightweight bottlenecks"] == 4
    stages = at.dataframe[0].value.set_index("part")
    assert stages["params · HRNet-W32"].sum() == 28_536_113
    assert stages.loc["stage1", "Δ GFLOPs (B − A)"] < 0  # depthwise-separable stage 1 is cheaper
    assert any("36 GC blocks hold" in m.value for m in at.markdown)
    by_label(at.radio, "Chart").set_value("sunburst")
    by_label(at.selectbox, "Model B").set_value("hrgcnet-w32-table1")
    at.run()
    no_exception(at)
    assert at.table[0].value.set_index("model").loc["HRGCNet-W32 (Table I)", "GC blocks"] == 48
    assert any("48 GC blocks hold" in m.value for m in at.markdown)


def test_the_same_model_as_a_and_b(page):
    at = page("2_architecture.py").run()
    by_label(at.selectbox, "Model B").set_value("hrnet-w32")
    at.run()
    no_exception(at)
    assert list(at.table[0].value["model"]) == ["HRNet-W32"]
    assert any("def transform" in c.value for c in at.code)  # the GC block's code path as it is
