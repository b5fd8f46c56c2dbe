"""The app's handlers and state called directly: box parsing, error messages, model choices and cards,
redraws with thresholds, box drawing by clicks."""

from __future__ import annotations

import json

import gradio as gr
import numpy as np
import pytest
import torch

from app import handlers, state
from app.state import Run, Session
from hrgcnet.errors import ImageError, UsageError
from hrgcnet.models.weights import save_weights
from hrgcnet.pipeline import PoseResult


def test_parse_boxes():
    assert handlers.parse_boxes("10, 20, 110, 220").tolist() == [[10, 20, 110, 220]]
    assert handlers.parse_boxes("1 2 3 4; 5.5,6,7,8e1").tolist() == [[1, 2, 3, 4], [5.5, 6, 7, 80]]
    with pytest.raises(UsageError, match="4 numbers each"):
        handlers.parse_boxes("1, 2, 3")
    with pytest.raises(UsageError, match="at least one box"):
        handlers.parse_boxes("  ")


def test_user_errors_become_messages():
    @handlers.user_errors
    def library_error():
        raise ImageError("image.png: not an image file")

    @handlers.user_errors
    def bug():
        raise KeyError("boom")

    with pytest.raises(gr.Error) as err:
        library_error()
    assert err.value.message == "image.png: not an image file" and err.value.print_exception is False
    with pytest.raises(gr.Error) as err:
        bug()
    assert err.value.message == "unexpected error (KeyError): 'boom'"


def fake_weights(tmp_path, monkeypatch, with_weights: dict[str, dict]):
    """Pretend that the models in ``with_weights`` have committed weights with that metadata."""
    paths = {}
    for name, meta in with_weights.items():
        paths[name] = save_weights({"w": torch.zeros(1)}, tmp_path / f"{name}.safetensors", metadata=meta)
    monkeypatch.setattr(state, "default_weights_path", lambda name: paths.get(name))


def test_without_any_weights_two_untrained_models_are_offered(tmp_path, monkeypatch):
    fake_weights(tmp_path, monkeypatch, {})
    assert state.enabled_models() == ["hrgcnet-w32", "hrnet-w32"]
    assert [label for label, _ in state.model_choices()] == ["HRGCNet-W32 (untrained)", "HRNet-W32 (untrained)"]
    assert "keypoints are noise" in state.untrained_banner()
    assert "untrained" in state.model_card("hrnet-w32")


def test_the_input_size_starts_at_the_weights_own(tmp_path, monkeypatch):
    fake_weights(tmp_path, monkeypatch, {"hrgcnet-w32": {"input_size": "128x96"}, "hrnet-w32": {"input_hw": [384, 288]},
                                         "hrgcnet-w48": {"input_size": "64x64"}})
    assert state.default_input_size("hrgcnet-w32") == "128x96" and "input 128x96" in state.model_card("hrgcnet-w32")
    assert state.default_input_size("hrnet-w32") == "384x288"
    assert state.weights_input_size("hrgcnet-w48") == "64x64"
    assert state.default_input_size("hrgcnet-w48") == state.DEFAULT_INPUT_SIZE  # a size the UI does not offer
    assert state.default_input_size("hrnet-w48") == state.DEFAULT_INPUT_SIZE  # no weights


def test_only_models_with_weights_are_offered_with_their_card(tmp_path, monkeypatch):
    fake_weights(tmp_path, monkeypatch, {"hrgcnet-w48": {"model": "hrgcnet-w48", "ap": 0.7125, "input_size": [256, 192],
                                                         "data": ["coco/train.json"], "val_ann": "coco/val.json",
                                                         "note": "A short run."}})
    assert state.enabled_models() == ["hrgcnet-w48"]
    assert state.untrained_banner() == ""
    card = state.model_card("hrgcnet-w48")
    assert "measured AP 0.713 on coco/val.json" in card and "coco/train.json" in card and "256x192" in card
    assert card.endswith("coco/val.json. A short run.")
    with pytest.raises(UsageError, match="no HRNET model"):
        handlers.counterpart("hrgcnet-w48")


def test_counterpart_is_the_other_family_at_the_same_width(tmp_path, monkeypatch):
    fake_weights(tmp_path, monkeypatch, {n: {"ap": 0.7} for n in ("hrnet-w32", "hrnet-w48", "hrgcnet-w32", "hrgcnet-w48")})
    assert handlers.counterpart("hrgcnet-w48") == "hrnet-w48"
    assert handlers.counterpart("hrnet-w32") == "hrgcnet-w32"


def fake_session() -> Session:
    """Two persons (box scores 0.4 and 0.9) on a gray 200x300 image, drawn at half size."""
    kpts = np.zeros((2, 17, 3), np.float32)
    kpts[0, :, :2] = np.stack([np.linspace(20, 80, 17), np.linspace(20, 180, 17)], 1)
    kpts[1, :, :2] = np.stack([np.linspace(150, 250, 17), np.linspace(30, 170, 17)], 1)
    kpts[..., 2] = np.linspace(0.1, 0.9, 17)
    result = PoseResult(boxes=np.array([[10, 10, 90, 190], [140, 20, 260, 180]], np.float32),
                        box_scores=np.array([0.4, 0.9], np.float32), keypoints=kpts,
                        instance_scores=np.array([0.3, 0.7], np.float32), center=np.zeros((2, 2)),
                        scale=np.ones((2, 2)), input_hw=(128, 96), image_hw=(200, 300))
    display = np.full((100, 150, 3), 128, np.uint8)
    run = Run(result=result, display=display, display_scale=0.5, model="hrgcnet-w32", input_size="128x96",
              flip_test=False, detector="full", untrained=True, source="/tmp/000000000042.jpg", image_id=42)
    return Session(run=run)


def test_redraw_applies_thresholds_to_the_cached_result():
    session = fake_session()
    overlay, table, json_path, png_path = handlers.redraw(session, 0.0, 0.5, True, "instance_score")
    assert overlay.shape == (100, 150, 3)
    assert table["shown"].tolist() == [False, True]
    results = json.loads(open(json_path).read())
    assert [r["image_id"] for r in results] == [42] and results[0]["score"] == pytest.approx(0.7)
    both, table_both, json_both, _ = handlers.redraw(session, 0.0, 0.3, True, "instance_score")
    assert table_both["shown"].tolist() == [True, True] and len(json.loads(open(json_both).read())) == 2
    assert not np.array_equal(overlay, both)  # the first person appears
    fewer_keypoints, table_k, _, _ = handlers.redraw(session, 0.8, 0.3, True, "instance_score")
    assert table_k["keypoints_above_threshold"].tolist() == [3, 3]
    assert not np.array_equal(both, fewer_keypoints)


def test_redraw_before_a_run_leaves_outputs_alone():
    outputs = handlers.redraw(None, 0.3, 0.5, True, "instance_score")
    assert all(isinstance(o, type(gr.skip())) for o in outputs)


def test_views_explain_missing_results():
    with pytest.raises(gr.Error, match="run the model on an image first"):
        handlers.heatmaps(None, 0)
    with pytest.raises(gr.Error, match="person 5 does not exist"):
        handlers.heatmaps(fake_session(), 5)
    with pytest.raises(gr.Error, match="no GC blocks"):
        handlers.attention(fake_session(), 0, None)


def test_two_clicks_draw_a_box():
    def click(x, y):
        return gr.SelectData(None, {"index": [x, y], "value": None})

    pending, text, hint, detector = handlers.add_box_corner(None, "", click(120, 40))
    assert pending == [120.0, 40.0] and text == "" and "opposite corner" in hint
    pending, text, hint, detector = handlers.add_box_corner(pending, "1, 2, 3, 4", click(20, 240))
    assert pending is None and text == "1, 2, 3, 4; 20, 40, 120, 240"
    assert detector["value"] == "boxes"
    assert handlers.parse_boxes(text).shape == (2, 4)


def test_display_image_is_bounded():
    image = np.zeros((1000, 4000, 3), np.uint8)
    small, scale = state.display_image(image, max_side=1600)
    assert small.shape == (400, 1600, 3) and scale == pytest.approx(0.4)
    same, one = state.display_image(image[:100, :100])
    assert one == 1.0 and same.shape == (100, 100, 3)
