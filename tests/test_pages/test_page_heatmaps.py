import numpy as np

from page_helpers import by_label, chart_traces, no_exception


def test_heatmaps_side_by_side(page):
    at = page("3_heatmaps.py").run()
    no_exception(at)
    by_label(at.selectbox, "Example").set_value(next(p for p in by_label(at.selectbox, "Example").options
                                                    if "astronaut" in str(p)))
    by_label(at.selectbox, "Person detector").set_value("full")
    by_label(at.selectbox, "Input size").set_value((128, 96))
    at.button[0].click().run()
    no_exception(at)
    table = at.dataframe[0].value
    assert len(table) == 17 and {"score · HRNet-W32", "score · HRGCNet-W32"} <= set(table.columns)
    assert np.isfinite(table["distance HRNet-W32 ↔ HRGCNet-W32 (px)"]).all()
    charts = chart_traces(at)
    assert len(charts) == 6  # overview, two heatmap grids, difference, two crops
    grid = charts[1]
    assert len(grid) == 17 and grid[0]["z"]["shape"].replace(" ", "") == "32,24"  # heatmaps at 1/4 of 128x96
    from hrgcnet.analysis.common import untrained_message

    # the warning is about the two models on the page only
    untrained = untrained_message(["hrnet-w32", "hrgcnet-w32"]) is not None
    assert any("Untrained weights" in w.value for w in at.warning) == untrained


def test_bad_upload_is_an_error_not_a_traceback(page):
    at = page("3_heatmaps.py").run()
    by_label(at.radio, "Image").set_value("upload")
    at.run()
    at.file_uploader[0].set_value(("photo.jpg", b"this is not an image", "image/jpeg")).run()
    no_exception(at)
    assert any("Cannot use this image" in e.value for e in at.error)
    assert at.button[0].disabled
