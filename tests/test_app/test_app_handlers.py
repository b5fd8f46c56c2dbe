"""The app's handlers and state called directly: box parsing, error messages, model choices and cards,
redraws with thresholds and the count of persons shown, box drawing by clicks, the steps after 'Estimate poses',
the event wiring of ``build_demo`` (which handler each event calls), the limits read from the environment, and the
default detector and box threshold on the example photos."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from app import handlers, state
from app.state import Run, Session
from hrgcnet.visualization import drawing as viz
from hrgcnet.errors import ImageError, UsageError
from hrgcnet.models.weights import save_weights
from hrgcnet.pipeline import PoseResult

ASSETS = Path(__file__).resolve().parents[2] / "assets"


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


def test_upload_errors_name_the_file_not_the_server_path(tmp_path):
    """An upload lives in a server temp folder (/tmp/gradio/<hash>/name): errors say the name only."""
    upload = tmp_path / "gradio" / "3f2a9c" / "holiday.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"not a jpeg at all")
    with pytest.raises(gr.Error) as err:
        handlers.predict(str(upload), "hrgcnet-w32", "128x96", "full", False, "", 0.3, 0.5, True, "instance_score")
    assert err.value.message.startswith("holiday.jpg: ") and str(tmp_path) not in err.value.message


def fake_weights(tmp_path, monkeypatch, with_weights: dict[str, dict]):
    """Pretend that the models in ``with_weights`` have committed weights with that metadata."""
    paths = {}
    for name, meta in with_weights.items():
        paths[name] = save_weights({"w": torch.zeros(1)}, tmp_path / f"{name}.safetensors", metadata=meta)
    import hrgcnet.models.weights

    for module in (state, hrgcnet.models.weights):  # the app's and the library's lookup of committed weights
        monkeypatch.setattr(module, "default_weights_path", lambda name: paths.get(name))


def test_without_any_weights_two_untrained_models_are_offered(tmp_path, monkeypatch):
    fake_weights(tmp_path, monkeypatch, {})
    assert state.enabled_models() == ["hrgcnet-w32", "hrnet-w32"]
    assert [label for label, _ in state.model_choices()] == ["HRGCNet-W32 (untrained)", "HRNet-W32 (untrained)"]
    assert "keypoints are noise" in state.untrained_banner()
    assert "untrained" in state.model_card("hrnet-w32")


def test_the_input_size_starts_at_the_weights_own(tmp_path, monkeypatch):
    fake_weights(tmp_path, monkeypatch, {"hrgcnet-w32": {"input_size": "128x96"}, "hrnet-w32": {"input_hw": [384, 288]},
                                         "hrgcnet-w48": {"input_size": "64x64"}})
    assert state.default_input_size("hrgcnet-w32") == "128x96"
    assert "| input size | 128x96 " in state.model_card("hrgcnet-w32")
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
    assert "| accuracy | measured AP 0.713 on COCO val2017 (val.json, 68 persons)" in card
    assert "| trained on | COCO 2017 train persons |" in card and "| input size | 256x192" in card
    assert card.endswith("\n\nA short run.") and "../" not in card  # no local paths
    with pytest.raises(UsageError, match="no HRNET model"):
        handlers.counterpart("hrgcnet-w48")


def test_the_model_card_names_data_files_without_local_paths():
    assert state.data_name("../shared/data/lspet/train.json") == "LSP-Extended"
    assert state.data_name("/home/me/data/mine/train.json") == "mine/train.json"


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


def test_person_choices_name_both_scores():
    """The dropdown names the pose score (what the overlay's "#i 0.30" label shows) and the box score."""
    assert handlers._person_choices(fake_session().run) == [("#0 (pose 0.30, box 0.40)", 0),
                                                           ("#1 (pose 0.70, box 0.90)", 1)]


def test_the_legend_shows_the_drawing_colours():
    from hrgcnet.visualization.drawing import COLOR_LEGEND, KEYPOINT_COLORS, LIMB_COLORS

    html = handlers.legend_html()
    for meaning, rgb in COLOR_LEGEND:
        assert f"color:rgb{rgb}" in html and meaning in html
    legend = {rgb for _, rgb in COLOR_LEGEND}
    assert set(KEYPOINT_COLORS) <= legend and LIMB_COLORS[0] in legend  # every joint colour is explained


def test_changed_settings_mark_the_result_stale():
    session = fake_session()
    session.run.settings = ("hrgcnet-w32", "128x96", "full", False)
    assert handlers.settings_changed(session, "hrgcnet-w32", "128x96", "full", False).startswith("**Timings**")
    stale = handlers.settings_changed(session, "hrnet-w32", "128x96", "full", False)
    assert stale.startswith("⚠️ **Settings changed**") and "hrgcnet-w32, 128x96" in stale
    assert "Settings changed" in handlers.settings_changed(session, "hrgcnet-w32", "256x192", "full", False)
    assert isinstance(handlers.settings_changed(Session(), "hrnet-w32", "128x96", "full", False), type(gr.skip()))


def test_redraw_applies_thresholds_to_the_cached_result():
    session = fake_session()
    overlay, table, json_path, png_path, notes, on_image = handlers.redraw(session, 0.0, 0.5, True, "instance_score")
    assert overlay.shape == (100, 150, 3) and on_image is None  # no heatmaps cached in this fake run
    assert table["shown"].tolist() == [False, True]
    assert "**1 person shown of 2 found** (box score ≥ 0.50); lower the box score threshold to show more." in notes
    results = json.loads(open(json_path).read())
    assert [r["image_id"] for r in results] == [42] and results[0]["score"] == pytest.approx(0.7)
    both, table_both, json_both, _, notes_both, _ = handlers.redraw(session, 0.0, 0.3, True, "instance_score")
    assert table_both["shown"].tolist() == [True, True] and len(json.loads(open(json_both).read())) == 2
    assert "**2 people shown of 2 found** (box score ≥ 0.30)." in notes_both
    assert not np.array_equal(overlay, both)  # the first person appears
    fewer_keypoints, table_k, *_ = handlers.redraw(session, 0.8, 0.3, True, "instance_score")
    assert table_k["keypoints_above_threshold"].tolist() == [3, 3]
    assert not np.array_equal(both, fewer_keypoints)


def test_the_count_line_tells_the_truth():
    run = fake_session().run
    assert handlers.count_line(run, 0.95) == ("**0 people shown of 2 found** (box score ≥ 0.95); lower the box score "
                                              "threshold to show more.")
    run.result.detected = 7  # the detector found 7; the person cap kept the 2 highest
    assert handlers.count_line(run, 0.3) == ("**2 people shown of 7 found** (box score ≥ 0.30); poses for 2 of them "
                                             "(see below).")
    run.result = run.result.select(np.zeros(2, bool))
    run.result.detected = 0
    assert handlers.count_line(run, 0.5) == "**Nobody found** (try another detector, or draw a box)."


def test_the_merged_heatmaps_show_the_persons_the_overlay_shows():
    session = session_with_maps()
    *_, high = handlers.redraw(session, 0.0, 0.5, True, "instance_score")  # person 1 only (box scores 0.4, 0.9)
    *_, low = handlers.redraw(session, 0.0, 0.3, True, "instance_score")   # both
    run = session.run
    only_1 = viz.heatmaps_on_image(run.display, handlers._scaled_result(run).select([1]))
    assert np.array_equal(high, only_1) and not np.array_equal(high, low)
    assert np.array_equal(handlers.heatmaps(session, 0, 0.5)[2], high)  # the Heatmaps tab at the same threshold
    assert np.array_equal(handlers.heatmaps_after_predict(session, 0, 0.3)[2], low)


def test_redraw_without_results_leaves_outputs_alone_and_says_why():
    # before any run, or once gr.State's time_to_live (counted from the last write) has dropped the results
    with pytest.warns(UserWarning, match="Nothing redrawn: no results.*'Estimate poses'.*kept 30 min"):
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


# ------------------------------------------------------------------ the steps after 'Estimate poses'

def session_with_maps(model: str = "hrgcnet-w32", persons: bool = True) -> Session:
    """:func:`fake_session` with heatmaps and crops (and GC attention maps for HRGCNet), as ``predict`` caches
    them; without ``persons``, the same run with nobody found."""
    session = fake_session()
    res = session.run.result
    rng = np.random.default_rng(0)
    res.heatmaps = rng.random((2, 17, 32, 24), dtype=np.float32)
    res.crops = rng.integers(0, 255, (2, 128, 96, 3), dtype=np.uint8)
    res.center = np.array([[50.0, 100.0], [200.0, 100.0]])
    res.scale = np.array([[0.8, 1.1], [0.9, 1.2]])
    if model.startswith("hrgcnet"):
        alpha = rng.random((2, 8, 6), dtype=np.float32)
        res.attention = {"stage1.block0": alpha / alpha.sum(axis=(1, 2), keepdims=True)}
    session.run.model = model
    if not persons:
        session.run.result = res.select(np.zeros(2, bool))
    return session


def test_attention_views_are_large_and_the_plot_spans_the_map():
    overlay, fig, _ = handlers.attention(session_with_maps("hrgcnet-w32"), 0, "stage1.block0")
    assert overlay.shape == (512, 384, 3)  # the 128x96 crop, 4x
    assert list(fig.layout.xaxis.range) == [-0.5, 5.5] and list(fig.layout.yaxis.range) == [7.5, -0.5]  # 8x6 map


def test_after_predict_an_hrnet_run_gets_a_note_not_an_error():
    session = session_with_maps("hrnet-w32")
    img, plot, note = handlers.attention_after_predict(session, 0, None)
    assert img is None and plot is None  # the previous image's maps do not stay
    assert "HRNet-W32 has no GC blocks" in note and "query-independent" in note
    figure, crop, on_image = handlers.heatmaps_after_predict(session, 0)
    assert crop.shape == (512, 384, 3) and on_image.shape == (100, 150, 3)  # the 128x96 crop shown 4x
    with pytest.raises(gr.Error, match="no GC blocks"):  # asked for explicitly (/attention): an error
        handlers.attention(session, 0, "stage1.block0")


def test_after_predict_an_image_without_persons_gets_empty_views_not_errors():
    session = session_with_maps(persons=False)
    assert handlers.heatmaps_after_predict(session, None) == (None, None, None)
    img, plot, note = handlers.attention_after_predict(session, None, None)
    assert img is None and plot is None and "No person was found" in note
    with pytest.raises(gr.Error, match="no person was found"):  # asked for explicitly (/heatmaps): an error
        handlers.heatmaps(session, 0)


def test_after_predict_an_hrgcnet_run_shows_its_maps():
    session = session_with_maps("hrgcnet-w32")
    figure, crop, on_image = handlers.heatmaps_after_predict(session, 1)
    direct = handlers.heatmaps(session, 1)
    assert np.array_equal(crop, direct[1]) and np.array_equal(on_image, direct[2])
    img, plot, note = handlers.attention_after_predict(session, 1, None)
    assert np.array_equal(img, handlers.attention(session, 1, None)[0]) and "stage1.block0" in note


def test_clear_compare_empties_every_comparison_output():
    left, right, table, plot, summary = handlers.clear_compare()
    assert left is None and right is None and plot is None and summary == ""
    assert list(table.columns) == handlers.COMPARE_COLUMNS and table.empty


@pytest.fixture(scope="module")
def demo_fns():
    from app.ui import build_demo

    return build_demo().fns


def test_predict_is_followed_by_steps_that_do_not_fail_and_clear_the_comparison(demo_fns):
    fns = list(demo_fns.values())
    predict = next(f for f in fns if f.api_name == "predict")
    chain, index = [], next(i for i, f in demo_fns.items() if f is predict)
    while (step := next((f for i, f in demo_fns.items() if f.trigger_after == index), None)) is not None:
        assert step.trigger_only_on_success
        chain.append(step)
        index = next(i for i, f in demo_fns.items() if f is step)
    assert [f.fn for f in chain] == [handlers.clear_compare, handlers.heatmaps_after_predict,
                                     handlers.attention_after_predict]
    compare = next(f for f in fns if f.api_name == "compare")
    cleared = {id(c) for f in chain for c in f.outputs}
    assert all(id(c) in cleared for c in compare.outputs if not isinstance(c, gr.State))
    # choosing a person asks for heatmaps: the GC attention that follows must not fail for a plain HRNet
    person_events = [f for f in fns if f.targets and f.targets[0][1] == "input"
                     and f.fn in (handlers.heatmaps, handlers.attention, handlers.attention_after_predict)
                     and f.api_name in ("heatmaps", "attention_of_person")]
    assert {f.fn for f in person_events} == {handlers.heatmaps, handlers.attention_after_predict}


def test_a_new_image_clears_its_boxes(demo_fns):
    def click(x, y):
        return gr.SelectData(None, {"index": [x, y], "value": None})

    pending, text, _, _ = handlers.add_box_corner(None, "1, 2, 30, 40", click(120, 40))  # half a box on image A
    pending, text, hint = handlers.new_image(pending, text)  # image B
    assert pending is None and text == "" and "cleared" in hint
    pending, text, hint, _ = handlers.add_box_corner(pending, text, click(20, 240))  # B's first corner only
    assert pending == [20.0, 240.0] and text == ""
    assert handlers.new_image(None, "") == (None, "", handlers.BOX_HINT)
    # wired: every change of the input image resets what a click on it builds
    select = next(f for f in demo_fns.values() if f.fn is handlers.add_box_corner)
    image = select.targets[0][0]
    change = [f for f in demo_fns.values() if f.targets == [(image, "change")]]
    assert [f.fn for f in change] == [handlers.new_image]
    assert [id(c) for c in change[0].outputs] == [id(c) for c in select.outputs[:3]]


# --------------------------------------------------------------------------- comparison thresholds

def compared_session() -> Session:
    """:func:`fake_session` (HRGCNet) with an HRNet run on the same boxes whose keypoints are 3 px off and
    scored lower on the second half of the keypoints."""
    session = fake_session()
    run = session.run
    kpts = run.result.keypoints.copy()
    kpts[..., 0] += 3.0
    kpts[:, 9:, 2] = 0.05
    other = Run(result=replace(run.result, keypoints=kpts), display=run.display, display_scale=run.display_scale,
                model="hrnet-w32", input_size=run.input_size, flip_test=False, detector="boxes of hrgcnet-w32",
                untrained=True, source=run.source, image_id=run.image_id)
    return Session(run=run, other=other)


def test_redraw_compare_applies_the_keypoint_threshold():
    session = compared_session()
    _, _, table_all, plot_all, summary_all = handlers.redraw_compare(session, 0.0, 0.3)
    _, _, table_thr, plot_thr, summary_thr = handlers.redraw_compare(session, 0.47, 0.3)
    assert table_all["mean distance (px)"].tolist() == pytest.approx([3.0] * 17)
    # keypoints scored below 0.47 by either model (the first 8 by both, the last 8 by HRNet) are left out
    px = table_thr["mean distance (px)"]
    assert px.isna().tolist() == [True] * 8 + [False] + [True] * 8 and px[8] == pytest.approx(3.0)
    assert table_thr["#1 distance / box size"].notna().sum() == 1
    assert summary_all != summary_thr and "at least 0.47" in summary_thr
    assert "box area" in summary_thr and "COCO counts a match" not in summary_thr
    oks_all = float(summary_all.split("#0: ")[1][:5])
    oks_thr = float(summary_thr.split("#0: ")[1][:5])
    assert oks_all < oks_thr < 1.0  # the OKS only counts the one keypoint both score >= 0.47 (an elbow)
    _, _, _, _, none = handlers.redraw_compare(session, 0.99, 0.3)
    assert "#0: n/a" in none and "mean n/a" in none


# ------------------------------------------------------------------------------------------ limits

def test_environment_limits_are_validated(monkeypatch, caplog):
    for value in ("0", "-3"):
        monkeypatch.setenv("HRGCNET_APP_TEST", value)
        with caplog.at_level("WARNING", logger="hrgcnet.app"):
            assert state.env_int("HRGCNET_APP_TEST", 10, minimum=1) == 1
        assert f"HRGCNET_APP_TEST={value} is below its minimum of 1" in caplog.text
        with caplog.at_level("WARNING", logger="hrgcnet.app"):
            assert state.env_float("HRGCNET_APP_TEST", 60.0, positive=True) == 60.0
        assert "is not a positive number: using 60" in caplog.text
    for value in ("ten", "nan"):
        monkeypatch.setenv("HRGCNET_APP_TEST", value)
        assert state.env_int("HRGCNET_APP_TEST", 10, minimum=1) == 10
        assert state.env_float("HRGCNET_APP_TEST", 4.0, positive=True) == 4.0
    monkeypatch.setenv("HRGCNET_APP_TEST", "7")
    assert state.env_int("HRGCNET_APP_TEST", 10, minimum=1) == 7
    assert state.env_float("HRGCNET_APP_TEST", 1.0, positive=True) == 7.0
    monkeypatch.delenv("HRGCNET_APP_TEST")
    assert state.env_int("HRGCNET_APP_TEST", 10, minimum=1) == 10
    # the app's own limits: each at least its minimum, whatever the environment held at import
    assert state.MAX_PERSONS >= 1 and state.REQUEST_TIME_LIMIT_S > 0 and state.ATTRIBUTION_BUDGET_S > 0
    from app import streaming

    assert streaming.LIVE_MAX_FPS > 0


def test_app_estimators_check_the_time_limit_within_an_image():
    """The time limit is checked between batches of persons: with the persons cap at 10, a batch of 32 would
    put a whole image in one forward pass and the limit would never be checked during it."""
    from hrgcnet.pipeline import PoseEstimator

    cache = state.ModelCache()
    base = PoseEstimator.from_model(torch.nn.Conv2d(3, 17, 1), input_hw="64x64", device="cpu")
    cache._models["hrgcnet-w32"] = state.LoadedModel("hrgcnet-w32", base, True, [])
    est, _ = cache.estimator("hrgcnet-w32", cache.detector("full"), "64x64", False)
    assert est.max_batch == state.BATCH_PERSONS < state.MAX_PERSONS
    assert est.max_persons == state.MAX_PERSONS


# ------------------------------------------------------------------------ defaults on the example photos

def run_at_defaults(image) -> tuple[Session, str]:
    """``predict`` with the UI's default detector and thresholds (fast pose settings: they do not move boxes)."""
    model = state.enabled_models()[0]
    out = handlers.predict(str(image), model, "128x96", state.DEFAULT_DETECTOR, False, "", 0.3, state.BOX_THRESHOLD,
                           True, "instance_score")
    return out[6], out[3]


def test_the_ui_starts_with_the_measured_defaults():
    from app import ui

    demo = ui.build_demo()
    radios = [b for b in demo.blocks.values() if getattr(b, "label", None) == "Person detector"]
    sliders = [b for b in demo.blocks.values() if str(getattr(b, "label", "")).startswith("Box score threshold")]
    assert radios[0].value == state.DEFAULT_DETECTOR == "auto"
    assert sliders[0].value == state.BOX_THRESHOLD


def test_three_people_are_found_and_drawn_at_the_defaults(monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    session, notes = run_at_defaults(ASSETS / "three_people.jpg")
    assert "**3 people shown of" in notes and "unavailable" not in notes
    shown = session.run.result.boxes[session.run.result.box_scores >= state.BOX_THRESHOLD]
    assert sorted(int((b[0] + b[2]) / 2 // 376) for b in shown) == [0, 1, 2]  # one per portrait


def test_baseball_players_are_drawn_at_the_defaults(monkeypatch, coco_val):
    """COCO val 217285: the batter, the catcher and the umpire (box score 0.35 with SSDLite) are drawn."""
    from hrgcnet.detectors.evaluate import box_iou

    monkeypatch.setenv("YOLO_OFFLINE", "1")
    session, notes = run_at_defaults(coco_val[1] / "000000217285.jpg")
    res = session.run.result
    shown = res.boxes[res.box_scores >= state.BOX_THRESHOLD]
    players = np.array([[262, 162, 369, 414], [376, 210, 474, 422], [511, 168, 584, 427]])  # COCO annotations
    assert (box_iou(players, shown).max(axis=1) >= 0.7).all(), (shown, notes)
