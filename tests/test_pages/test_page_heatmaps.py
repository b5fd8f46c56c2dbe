import numpy as np
import pytest

from page_helpers import by_label, chart_titles, chart_traces, no_exception


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


def test_the_input_size_starts_at_the_weights_own(page):
    from hrgcnet.analysis.common import INPUT_SIZES, default_input_index

    at = page("3_heatmaps.py").run()
    assert by_label(at.selectbox, "Input size").value == INPUT_SIZES[default_input_index("hrnet-w32")]


def test_flip_test_starts_on_as_in_the_gradio_app(page):
    from app.ui import build_demo

    at = page("3_heatmaps.py").run()
    flip = by_label(at.checkbox, "Flip test").value
    gradio_flip = next(c for c in build_demo().blocks.values()
                       if getattr(c, "label", None) == "Flip test (twice the time)")
    assert flip is True and gradio_flip.value is True


@pytest.fixture
def duplicate_boxes(monkeypatch):
    """The 'full' detector returns a person twice (boxes one pixel apart), as a real detector may; the page's
    cached detectors and results are cleared before and after."""
    import streamlit as st

    import hrgcnet.detectors as detectors
    from hrgcnet.detectors.base import Detections

    class Twice:
        notes: list = []

        def __call__(self, image, **kwargs):
            h, w = image.shape[:2]
            box = np.array([0.1 * w, 0.1 * h, 0.9 * w, 0.9 * h], np.float32)
            return Detections(np.stack([box, box + [1, 0, 1, 0]]), np.array([0.9, 0.8], np.float32))

    real = detectors.create_detector
    monkeypatch.setattr(detectors, "create_detector", lambda name: Twice() if name == "full" else real(name))
    st.cache_resource.clear(), st.cache_data.clear()
    yield
    st.cache_resource.clear(), st.cache_data.clear()


def test_every_detected_person_has_heatmaps_in_every_model(page, duplicate_boxes):
    """The models get the same boxes and keep each of them (no OKS-NMS), so person p is the same in all."""
    at = page("3_heatmaps.py").run()
    by_label(at.selectbox, "Person detector").set_value("full")
    by_label(at.selectbox, "Input size").set_value((128, 96))
    at.button[0].click().run()
    no_exception(at)
    assert by_label(at.selectbox, "Person").options == ["person 0", "person 1"]
    by_label(at.selectbox, "Person").set_value(1)
    at.run()
    no_exception(at)
    assert "heatmaps of person 1" in chart_titles(at)[1]


def test_an_upload_says_what_loading_changed(page):
    import io

    from PIL import Image

    pil = Image.fromarray(np.full((60, 40, 3), 128, np.uint8))
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", exif=exif)
    at = page("3_heatmaps.py").run()
    by_label(at.radio, "Image").set_value("upload")
    at.run()
    at.file_uploader[0].set_value(("phone.jpg", buf.getvalue(), "image/jpeg")).run()
    no_exception(at)
    assert any("phone.jpg: turned upright by its EXIF orientation tag" in c.value for c in at.caption)
