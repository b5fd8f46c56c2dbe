"""Every endpoint of the app through its HTTP API (``gradio_client``), on real COCO photos.

The models run with untrained weights here, so the tests check contracts (outputs present, shapes,
valid JSON, error messages, no network re-run on redraw), not accuracy.
"""

from __future__ import annotations

import json
import uuid

import httpx
import numpy as np
import pytest
from PIL import Image

from hrgcnet.structures import KEYPOINT_NAMES

#: Small, fast settings: the smallest input size the UI offers, no flip test.
FAST = {"input_size": "128x96", "flip_test": False}

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402


def predict(client, image, *, model="hrgcnet-w32", detector="full", boxes="", kpt_thr=0.3, box_thr=0.5,
            show_boxes=True, label="instance_score"):
    return client.predict(handle_file(str(image)), model, FAST["input_size"], detector, FAST["flip_test"], boxes,
                          kpt_thr, box_thr, show_boxes, label, api_name="/predict")


def read_rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def table_rows(table: dict) -> list[dict]:
    return [dict(zip(table["headers"], row)) for row in table["data"]]


def test_start_makes_no_outbound_connection(launched_app):
    assert launched_app.outbound == []


def test_predict_one_person_photo(client, coco_photos):
    photo = coco_photos["one"]
    overlay, table, timings, notes, json_path, png_path, person, block = predict(client, photo.path, detector="ssd")
    with Image.open(photo.path) as im:
        size = im.size
    assert read_rgb(overlay).shape == (size[1], size[0], 3)
    assert read_rgb(png_path).shape == (size[1], size[0], 3)
    rows = table_rows(table)
    assert len(rows) == len(person["choices"])
    results = json.loads(open(json_path).read())
    assert len(results) == sum(r["shown"] for r in rows)
    for r in results:
        assert r["image_id"] == photo.image_id and r["category_id"] == 1
        assert len(r["keypoints"]) == 3 * len(KEYPOINT_NAMES)
    for word in ("detector", "pose", "decode", "ms"):
        assert word in timings
    from hrgcnet.models.weights import default_weights_path

    # without committed weights the app must say so; with them, it must not
    assert ("untrained weights" in notes) == (default_weights_path("hrgcnet-w32") is None)
    # HRGCNet's 36 GC blocks are offered, the most peaked α first, the measure in the label
    assert len(block["choices"]) == 36 and block["value"] == block["choices"][0][1]
    peaks = [float(label.split("peak α ")[1].split("x")[0]) for label, _ in block["choices"]]
    assert peaks == sorted(peaks, reverse=True) and {name for _, name in block["choices"]} >= {"stage1.block0"}


def test_predict_needs_only_the_image(client, coco_photos):
    """Every setting of /predict has a default for gradio_client callers (the typed boxes too)."""
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/predict"]["parameters"]
    assert [p["parameter_name"] for p in params if not p["parameter_has_default"]] == ["image"]
    overlay, *_ = client.predict(handle_file(str(coco_photos["one"].path)), api_name="/predict")
    assert read_rgb(overlay).ndim == 3


def test_predict_several_persons_with_typed_boxes(client, coco_photos):
    photo = coco_photos["several"]
    boxes = "; ".join(", ".join(f"{v:.1f}" for v in b) for b in photo.boxes_xyxy)
    overlay, table, timings, notes, json_path, _, person, _ = predict(client, photo.path, detector="boxes",
                                                                     boxes=boxes, box_thr=0.3)
    rows = table_rows(table)
    assert 1 <= len(rows) <= len(photo.boxes_xyxy)  # OKS-NMS may merge duplicates
    assert all(r["box_score"] == 1.0 and r["shown"] for r in rows)
    results = json.loads(open(json_path).read())
    assert len(results) == len(rows)
    assert [c[1] for c in person["choices"]] == list(range(len(rows)))
    assert "detector boxes" in timings


def test_predict_photo_with_nobody(client, coco_photos):
    overlay, table, timings, notes, json_path, png_path, person, block = predict(client, coco_photos["nobody"].path,
                                                                                 detector="yolo")
    assert table_rows(table) == []
    assert json.loads(open(json_path).read()) == []
    assert read_rgb(overlay).ndim == 3
    assert "**Nobody found**" in notes
    if "detector nanodet" in timings:  # offline: yolo, chosen explicitly, fell back, and the UI says so
        assert "unavailable" in notes and "'nanodet'" in notes
    with pytest.raises(AppError, match="no person was found"):
        client.predict(0, api_name="/heatmaps")


def count_forward_calls(model_name: str):
    """A list that grows by one per forward pass of the app's shared network ``model_name``."""
    from app.state import MODELS

    calls: list[int] = []
    handle = MODELS.model(model_name).estimator.model.register_forward_pre_hook(lambda m, a: calls.append(1))
    return calls, handle


def test_redraws_and_views_reuse_the_cached_result(client, coco_photos):
    photo = coco_photos["one"]
    calls, handle = count_forward_calls("hrgcnet-w32")
    try:
        _, table, *_ = predict(client, photo.path, detector="ssd", box_thr=0.25)
        after_run = len(calls)
        assert after_run >= 1
        rows = table_rows(table)
        assert rows, "SSD finds the person of this photo"
        with_boxes, _, json_shown, _, notes_shown, _ = client.predict(0.5, 0.25, True, "box_score", api_name="/redraw")
        without_boxes, *_ = client.predict(0.5, 0.25, False, "none", api_name="/redraw")
        _, table_hidden, json_hidden, _, notes_hidden, _ = client.predict(0.5, 1.0, True, "box_score",
                                                                          api_name="/redraw")
        client.predict(0, api_name="/heatmaps")
        client.predict(0, "stage1.block0", api_name="/attention")
        assert len(calls) == after_run, "a redraw or a view ran the network again"
    finally:
        handle.remove()
    assert not np.array_equal(read_rgb(with_boxes), read_rgb(without_boxes))
    assert len(json.loads(open(json_shown).read())) == len(rows)
    shown = [r["shown"] for r in table_rows(table_hidden)]
    assert len(shown) == len(rows)  # the table keeps hidden persons, the JSON leaves them out
    assert len(json.loads(open(json_hidden).read())) == sum(shown)
    assert f"**{len(rows)} {'person' if len(rows) == 1 else 'people'} shown of" in notes_shown  # the count follows
    assert f"**{sum(shown)} people shown of" in notes_hidden                                       # the threshold


def test_the_default_detector_offline_is_nanodet_without_a_fallback_note(client, coco_photos):
    from app import state

    photo = coco_photos["several"]
    _, table, timings, notes, *_ = predict(client, photo.path, detector=state.DEFAULT_DETECTOR)
    assert "detector nanodet" in timings and "unavailable" not in notes
    rows = table_rows(table)
    assert rows and f"**{sum(r['shown'] for r in rows)} " in notes and " found** (box score ≥ 0.50)" in notes


def test_heatmaps_attention_and_attribution(client, coco_photos):
    predict(client, coco_photos["one"].path, detector="full")
    figure, crop_overlay, image_overlay = client.predict(0, api_name="/heatmaps")
    assert figure["type"] == "plotly"
    traces = json.loads(figure["plot"])["data"]
    assert len(traces) == 1 + len(KEYPOINT_NAMES)  # merged + one per keypoint
    assert {t["type"] for t in traces} == {"heatmap"}
    assert read_rgb(crop_overlay).shape == (512, 384, 3)  # the 128x96 crop, 4x: large enough to read
    assert read_rgb(image_overlay).ndim == 3

    overlay, alpha_plot, note = client.predict(0, "stage3.module0.branch0.block1", api_name="/attention")
    assert read_rgb(overlay).shape == (512, 384, 3)
    assert "query-independent" in note and "stage3.module0.branch0.block1" in note
    assert json.loads(alpha_plot["plot"])["data"][0]["type"] == "heatmap"
    with pytest.raises(AppError, match="no GC block named"):
        client.predict(0, "stage9.block0", api_name="/attention")

    image, text = client.predict(0, "left_wrist", "saliency", 2, api_name="/attribution")
    assert read_rgb(image).shape == (512, 384, 3)
    assert "Saliency" in text and "left_wrist" in text


def test_compare_hrnet_and_hrgcnet_on_the_same_boxes(client, coco_photos):
    photo = coco_photos["several"]
    boxes = "; ".join(", ".join(f"{v:.1f}" for v in b) for b in photo.boxes_xyxy[:2])
    _, table, *_ = predict(client, photo.path, detector="boxes", boxes=boxes, box_thr=0.3)
    n = len(table_rows(table))
    left, right, disagreement, plot, summary = client.predict(handle_file(str(photo.path)), 0.0, 0.3,
                                                              api_name="/compare")
    assert read_rgb(left).shape == read_rgb(right).shape
    rows = table_rows(disagreement)
    assert [r["keypoint"] for r in rows] == list(KEYPOINT_NAMES)
    assert all(0 <= r["mean distance / box size"] for r in rows)
    assert "OKS" in summary and "HRNet-W32" in summary and "HRGCNet-W32" in summary
    assert len(json.loads(plot["plot"])["data"]) == n
    _, _, redrawn, _, redrawn_summary = client.predict(0.0, 0.3, api_name="/redraw_compare")
    assert table_rows(redrawn) == rows and redrawn_summary == summary
    # the keypoint threshold counts: keypoints either model scores below it leave the distances and the OKS
    _, _, strict, _, strict_summary = client.predict(1.0, 0.3, api_name="/redraw_compare")
    assert "at least 1.00" in strict_summary and "at least 0.00" in summary
    assert all(isinstance(r["mean distance (px)"], float) for r in rows)  # threshold 0: every keypoint counts
    strict_rows = table_rows(strict)
    assert [r["keypoint"] for r in strict_rows] == list(KEYPOINT_NAMES)
    cells = [r["mean distance (px)"] for r in strict_rows]  # left out: empty (None)
    assert None in cells and all(c is None or isinstance(c, float) for c in cells)
    assert ("mean n/a" in strict_summary) == all(c is None for c in cells)


def test_model_cards(client):
    from app.state import enabled_models

    for name in enabled_models():
        card = client.predict(name, api_name="/model_card")
        assert "untrained" in card or "AP" in card


def test_errors_are_messages_not_tracebacks(client, coco_photos, tmp_path):
    with pytest.raises(AppError, match="4 numbers each") as bad_boxes:
        predict(client, coco_photos["one"].path, detector="boxes", boxes="10, 20, 30")
    assert "Traceback" not in str(bad_boxes.value)
    with pytest.raises(AppError, match="at least one box"):
        predict(client, coco_photos["one"].path, detector="boxes", boxes="")
    with pytest.raises(AppError, match="run the model on an image first"):
        client.predict(0, api_name="/heatmaps")
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not an image")
    with pytest.raises(AppError) as bad_file:
        predict(client, not_an_image)
    assert "Traceback" not in str(bad_file.value)


def test_live_endpoint_streams_an_overlay(launched_app, monkeypatch):
    """``/live`` is a streaming event, which ``gradio_client`` cannot call: drive Gradio's queue over HTTP."""
    monkeypatch.setattr("app.streaming.LIVE_MAX_FPS", 0.05)  # a frame within 20 s of the last one is skipped
    base = launched_app.url + "gradio_api"
    fn_index = next(i for i, fn in launched_app.demo.fns.items() if fn.api_name == "live")
    from pathlib import Path

    asset = Path(__file__).resolve().parents[2] / "assets" / "cameraman.jpg"
    session_hash = uuid.uuid4().hex[:12]
    with httpx.Client(timeout=120) as http:
        uploaded = http.post(f"{base}/upload", files={"files": (asset.name, asset.read_bytes(), "image/jpeg")}).json()
        frame = {"path": uploaded[0], "orig_name": asset.name, "meta": {"_type": "gradio.FileData"}}
        body = {"data": [frame, None, "hrgcnet-w32", "full", FAST["input_size"], False, 0.3, 0.5],
                "fn_index": fn_index, "session_hash": session_hash, "event_data": None, "trigger_id": None}
        event_id = http.post(f"{base}/queue/join", json=body).json()["event_id"]
        outputs = []
        with http.stream("GET", f"{base}/queue/data", params={"session_hash": session_hash}) as sse:
            for line in sse.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_streaming":
                    outputs.append(msg["output"]["data"])
                    if len(outputs) == 1:  # a second frame right away: over the FPS cap, so skipped
                        http.post(f"{base}/stream/{event_id}", json=body)
                    else:
                        http.post(f"{base}/stream/{event_id}/close")
                if msg.get("msg") == "process_completed":
                    break
    first, second = outputs[0], outputs[1]
    assert first[0]["path"] and read_rgb(first[0]["path"]).ndim == 3
    assert "FPS achieved" in first[1] and "1 processed" in first[1]
    assert second[0] == {"__type__": "update"}  # skipped frame: the overlay is left as it is
    assert "1 skipped" in second[1]
