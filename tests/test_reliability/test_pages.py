"""Bad uploads through the Streamlit pages (``AppTest``): every file gives a message on the page, never an
exception; good files stay usable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bad_inputs import image_files

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test_pages"))
from page_helpers import TIMEOUT, by_label, no_exception  # noqa: E402

REPO_PAGES = Path(__file__).resolve().parents[2] / "pages"
FILES = image_files()
#: The image pages' uploaders take these extensions only (the browser refuses others; Streamlit raises if forced).
ALLOWED = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def upload_name(name: str) -> str:
    """``name``, or the same file named ``.jpg`` when the uploaders refuse its extension (text, PDF, GIF)."""
    return name if name.lower().endswith(ALLOWED) else name.rsplit(".", 1)[0] + ".jpg"


def test_heatmaps_page_every_kind_of_upload():
    at = AppTest.from_file(str(REPO_PAGES / "3_heatmaps.py"), default_timeout=TIMEOUT).run()
    by_label(at.radio, "Image").set_value("upload")
    at.run()
    for kind, (name, data, outcome) in FILES.items():
        at.file_uploader[0].set_value((upload_name(name), data, "application/octet-stream")).run()
        no_exception(at)
        errors = [e.value for e in at.error]
        if outcome.ok:
            assert not errors and not at.button[0].disabled, (kind, errors)
        else:
            message = errors[0].lower().replace(upload_name(name), "") if len(errors) == 1 else ""
            assert outcome.message in message, (kind, errors)
            assert at.button[0].disabled


def test_heatmaps_page_runs_on_an_extreme_aspect_ratio():
    at = AppTest.from_file(str(REPO_PAGES / "3_heatmaps.py"), default_timeout=TIMEOUT).run()
    by_label(at.radio, "Image").set_value("upload")
    at.run()
    name, data, _ = FILES["extreme_aspect"]
    at.file_uploader[0].set_value((name, data, "image/png")).run()
    by_label(at.selectbox, "Person detector").set_value("full")
    by_label(at.selectbox, "Input size").set_value((128, 96))
    by_label(at.multiselect, "Models").set_value(["hrgcnet-w32"])
    at.button[0].click().run()
    no_exception(at)
    assert len(at.dataframe[0].value) == 17


def test_gc_attention_page_many_uploads_at_once():
    at = AppTest.from_file(str(REPO_PAGES / "4_gc_attention.py"), default_timeout=TIMEOUT).run()
    files = [(upload_name(name), data, "application/octet-stream") for name, data, _ in FILES.values()]
    at.file_uploader[0].set_value(files).run()
    no_exception(at)
    errors = " ".join(e.value for e in at.error).lower()
    for kind, (name, _, outcome) in FILES.items():
        assert (f"{upload_name(name)}: " in errors) == (not outcome.ok), kind


def test_evaluation_page_bad_json_uploads():
    at = AppTest.from_file(str(REPO_PAGES / "5_evaluation.py"), default_timeout=TIMEOUT).run()
    no_exception(at)
    bad = [
        ("truncated.json", b'{"AP": 0.5, "AP50"', "not valid json"),
        ("binary.json", bytes(range(256)), "not valid json"),
        ("number.json", b"42", "expected a json object"),
        ("no_ap.json", json.dumps({"hello": 1}).encode(), "no ap summary"),
        ("bad_results.json", json.dumps([{"image_id": 1}]).encode(), "needs image_id, keypoints and score"),
        ("short_results.json", json.dumps([{"image_id": 1, "keypoints": [1, 2], "score": 1}]).encode(),
         "keypoint values"),
        # valid JSON, wrong inside
        ("text_ap.json", json.dumps({"AP": "n/a"}).encode(), "ap must be a number in 0..1"),
        ("percent_ap.json", json.dumps({"AP": 71.5}).encode(), "ap must be a number in 0..1"),
        ("flat_per_keypoint.json", json.dumps({"AP": 0.5, "per_keypoint": {"nose": 0.8}}).encode(),
         "per_keypoint entry 'nose' needs numbers"),
        ("text_score.json", json.dumps([{"image_id": 1, "keypoints": [0] * 51, "score": "x"}]).encode(),
         "score must be a number"),
    ]
    at.file_uploader[0].set_value([(n, d, "application/json") for n, d, _ in bad]).run()
    no_exception(at)
    errors = [e.value.lower() for e in at.error]
    for name, _, message in bad:
        assert sum(name in e for e in errors) == 1 and any(name in e and message in e for e in errors), (name, errors)
    assert len(errors) == len(bad) and not at.dataframe  # one error per file, nothing half-loaded


def test_an_extension_the_page_does_not_take_is_refused():
    """Forced past the browser's filter, a .txt upload is refused by Streamlit itself (a clear message)."""
    at = AppTest.from_file(str(REPO_PAGES / "3_heatmaps.py"), default_timeout=TIMEOUT).run()
    by_label(at.radio, "Image").set_value("upload")
    at.run()
    at.file_uploader[0].set_value(("notes.txt", b"text", "text/plain")).run()
    assert [e.message for e in at.exception] == [
        "Invalid file extension: `.txt`. Allowed: ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']"]
