"""The functions the app's events call: convert UI inputs -> call the hrgcnet library -> return outputs.

No model logic lives here: detection, cropping, the network, decoding, drawing, comparison and
attributions are library calls (:mod:`hrgcnet.pipeline`, :mod:`hrgcnet.visualization.drawing`, :mod:`hrgcnet.evaluation.compare`,
:mod:`hrgcnet.analysis.attribution`). Every handler is wrapped by :func:`user_errors`, which turns library
errors (and anything unexpected) into a ``gr.Error`` message: the UI never shows a traceback.

Handlers that run a network (``predict``, ``compare``, ``attribution``, the live webcam) store their
results in the user's :class:`~app.state.Session`; the others (``redraw``, ``heatmaps``, ``attention``)
only read it, so changing a threshold or a display option never runs the network again.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hrgcnet.visualization import drawing as viz
from hrgcnet.analysis.attribution import METHODS as ATTRIBUTION_METHODS
from hrgcnet.analysis.attribution import attribute_keypoint
from hrgcnet.detectors import image_id_from_file_name
from hrgcnet.errors import HRGCNetError, UsageError
from hrgcnet.evaluation.compare import compare_keypoints
from hrgcnet.io import load_image_with_notes
from hrgcnet.models import get_spec
from hrgcnet.structures import KEYPOINT_NAMES

from . import state
from .state import MODELS, Run, Session
from .streaming import LiveState, process_frame, set_tracking

log = logging.getLogger("hrgcnet.app")

#: Where the downloadable files are written (one sub-folder per call, removed after ``STATE_TTL_S``).
DOWNLOAD_DIR = Path(tempfile.gettempdir()) / "hrgcnet-app"
LABELS = (("instance score", "instance_score"), ("box score", "box_score"), ("none", "none"))
PERSON_COLUMNS = ["person", "box_score", "instance_score", "shown", "keypoints_above_threshold", "x1", "y1", "x2", "y2"]


# --------------------------------------------------------------------------------------- errors

def user_errors(fn: Callable) -> Callable:
    """Run ``fn``; raise library errors as ``gr.Error`` messages and log anything else (never a traceback
    in the UI)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except HRGCNetError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except MemoryError:
            raise gr.Error("out of memory: try a smaller image, a smaller input size or fewer persons",
                           print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - the UI must get a message, the log keeps the traceback
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"unexpected error ({type(exc).__name__}): {exc}", print_exception=False) from None

    return wrapper


def readable_uploads(component: gr.Image) -> gr.Image:
    """``component`` (an input ``gr.Image``) with its upload preprocessing made to report unreadable files with
    the library's message; returns the same component.

    ``gr.Image`` opens every upload with ``PIL.Image.open`` before any handler runs; a text file, a PDF, an empty
    file or a decompression bomb then fails with Gradio's generic "Could not preprocess input component ..."
    error. Here such a file is read with :func:`hrgcnet.io.load_image` instead and its message ("not an image
    file", "larger than the limit of 50 megapixels", ...) is raised as a ``gr.Error``. Only this one component
    is changed (a ``gr.Image`` subclass would make Gradio write a ``.pyi`` stub next to this module).
    """
    preprocess = component.preprocess

    @functools.wraps(preprocess)
    def checked(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - PIL's errors (UnidentifiedImageError, DecompressionBombError, ...)
            path = getattr(payload, "path", None)
            name = getattr(payload, "orig_name", None) or "upload"
            if path is not None:
                try:
                    load_image_with_notes(path, name=name)
                except HRGCNetError as err:
                    raise gr.Error(str(err), print_exception=False) from None
            raise gr.Error(f"{name}: cannot read this image ({type(exc).__name__}: {exc})",
                           print_exception=False) from None

    component.preprocess = checked
    return component


# -------------------------------------------------------------------------------------- helpers

def parse_boxes(text: str | None) -> np.ndarray:
    """``"x1,y1,x2,y2; x1,y1,x2,y2"`` (any separators, one box per 4 numbers) -> ``(N, 4)`` float64."""
    numbers = re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", text or "")
    if len(numbers) % 4:
        raise UsageError(f"boxes need 4 numbers each (x1, y1, x2, y2); got {len(numbers)} numbers")
    boxes = np.asarray([float(v) for v in numbers], dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        raise UsageError("the 'my boxes' detector needs at least one box: type x1, y1, x2, y2 or click two "
                         "opposite corners on the input image")
    return boxes


def format_boxes(boxes: np.ndarray) -> str:
    return "; ".join(", ".join(f"{v:.0f}" for v in box) for box in np.asarray(boxes).reshape(-1, 4))


def fresh_dir() -> Path:
    """A new folder for one call's downloads; folders older than the state TTL are removed."""
    DOWNLOAD_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in DOWNLOAD_DIR.iterdir():
        try:
            if now - old.stat().st_mtime > state.STATE_TTL_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(dir=DOWNLOAD_DIR))


def no_results_message() -> str:
    """What a view says when this user has no cached results: none yet, or they expired."""
    return (f"no results: run the model on an image first (button 'Estimate poses'); results are kept "
            f"{state.STATE_TTL_S / 60:g} min after the last 'Estimate poses' or 'Compare'")


def _need_run(session: Session | None) -> Run:
    if session is None or session.run is None:
        raise UsageError(no_results_message())
    return session.run


def _person(run: Run, person: int | float | str | None) -> int:
    n = len(run.result)
    if n == 0:
        raise UsageError("no person was found in this image: nothing to show")
    try:
        index = int(person) if person is not None and person != "" else 0
    except (TypeError, ValueError):
        raise UsageError(f"person must be a number 0..{n - 1}, got {person!r}") from None
    if not 0 <= index < n:
        raise UsageError(f"person {index} does not exist; this image has persons 0..{n - 1}")
    return index


def _shown(run: Run, box_thr: float) -> np.ndarray:
    """Indices of the persons whose box score passes ``box_thr``."""
    return np.flatnonzero(run.result.box_scores >= float(box_thr))


def _draw(run: Run, kpt_thr: float, box_thr: float, show_boxes: bool = True, label: str = "instance_score",
          keypoints: np.ndarray | None = None) -> np.ndarray:
    """The skeleton overlay of ``run`` at display size (persons below ``box_thr`` left out)."""
    res = run.result
    keep = _shown(run, box_thr)
    kpts = (res.keypoints if keypoints is None else keypoints)[keep].astype(np.float64).copy()
    kpts[..., :2] *= run.display_scale
    boxes = res.boxes[keep].astype(np.float64) * run.display_scale
    labels = None
    if label in ("instance_score", "box_score"):
        scores = res.instance_scores if label == "instance_score" else res.box_scores
        labels = [f"#{i} {float(scores[i]):.2f}" for i in keep]
    return viz.draw_keypoints(run.display, kpts, boxes if show_boxes else None, labels if show_boxes else None,
                              kpt_thr=float(kpt_thr))


def _persons_table(run: Run, kpt_thr: float, box_thr: float) -> pd.DataFrame:
    res = run.result
    rows = []
    for i in range(len(res)):
        x1, y1, x2, y2 = (round(float(v), 1) for v in res.boxes[i])
        rows.append({"person": i, "box_score": round(float(res.box_scores[i]), 3),
                     "instance_score": round(float(res.instance_scores[i]), 3),
                     "shown": bool(res.box_scores[i] >= box_thr),
                     "keypoints_above_threshold": int((res.keypoints[i, :, 2] >= kpt_thr).sum()),
                     "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    return pd.DataFrame(rows, columns=PERSON_COLUMNS)


def _downloads(run: Run, overlay: np.ndarray, box_thr: float) -> tuple[str, str]:
    """Write the COCO results JSON (persons passing ``box_thr``) and the overlay PNG; return both paths."""
    folder = fresh_dir()
    stem = f"hrgcnet_{run.model}_{Path(run.source).stem or 'image'}"
    json_path = folder / f"{stem}_results.json"
    json_path.write_text(json.dumps(run.result.select(_shown(run, box_thr)).to_coco_json(run.image_id), indent=1))
    png_path = folder / f"{stem}_overlay.png"
    cv2.imwrite(str(png_path), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    return str(json_path), str(png_path)


def _timings(run: Run) -> str:
    t = run.result.timings
    return (f"**Timings** ({run.model}, {run.input_size}, flip test {'on' if run.flip_test else 'off'}, "
            f"detector {run.detector}, network on {run.backend}): detector {t.get('detect_ms', 0):.0f} ms · pose "
            f"{t.get('pose_ms', 0):.0f} ms · decode {t.get('decode_ms', 0):.0f} ms")


def legend_html() -> str:
    """The colour legend of the overlays (:data:`hrgcnet.visualization.drawing.COLOR_LEGEND`), one swatch per meaning."""
    from hrgcnet.visualization.drawing import COLOR_LEGEND

    items = "".join(f'<span style="margin-right:1em"><span style="color:rgb{rgb};text-shadow:0 0 1px #000">'
                    f"&#9679;</span> {meaning}</span>" for meaning, rgb in COLOR_LEGEND)
    return f'<div id="legend-items" style="font-size:0.9em">{items}</div>'


def settings_changed(session: Session | None, model: str, input_size: str, detector: str, flip_test: bool):
    """The timings line again when the controls match the result on screen, else a warning that it is stale
    (nothing runs until "Estimate poses"); no change before the first run."""
    run = session.run if session is not None else None
    if run is None:
        return gr.skip()
    if run.settings == (model, input_size, detector, bool(flip_test)):
        return _timings(run)
    return (f"⚠️ **Settings changed**: the result shown is still the one of {run.model}, {run.input_size}, "
            f"detector {run.detector}, flip test {'on' if run.flip_test else 'off'}. Press **Estimate poses** to run "
            "with the new settings.")


def count_line(run: Run, box_thr: float) -> str:
    """How many persons are drawn of how many the detector found, e.g. "**3 people shown of 13 found** (box score
    ≥ 0.50); poses for 10 of them (see below); lower the box score threshold to show more." The notes below say why
    persons have no pose (the person cap, OKS-NMS duplicates)."""
    res = run.result
    kept = len(res)
    found = max(kept, res.detected if res.detected is not None else kept)
    if found == 0:
        return "**Nobody found** (try another detector, or draw a box)."
    shown = len(_shown(run, box_thr))
    people = "person" if shown == 1 else "people"
    line = f"**{shown} {people} shown of {found} found** (box score ≥ {float(box_thr):.2f})"
    if kept < found:
        line += f"; poses for {kept} of them (see below)"
    if shown < kept:
        line += "; lower the box score threshold to show more"
    return line + "."


def _notes(run: Run, box_thr: float) -> str:
    lines = []
    if run.untrained:
        lines.append(f"⚠️ **{get_spec(run.model).label} runs with untrained weights: keypoints are noise.**")
    lines.append(count_line(run, box_thr))
    seen = set()
    for note in list(run.result.notes) + list(run.load_notes):
        if note not in seen and not note.startswith("untrained weights"):
            seen.add(note)
            lines.append(f"- {note}")
    return "\n".join(lines)


def _person_choices(run: Run) -> list[tuple[str, int]]:
    """``"#i (pose 0.40, box 1.00)"``: the pose (instance) score the overlay labels show by default, and the
    box score the threshold applies to, each named."""
    res = run.result
    return [(f"#{i} (pose {float(res.instance_scores[i]):.2f}, box {float(res.box_scores[i]):.2f})", i)
            for i in range(len(res))]


def _block_choices(run: Run) -> list[tuple[str, str]]:
    """``(label, block)`` for every GC block, the most peaked first: how far α is from uniform, as its largest value
    over the uniform 1/(h·w), the median over the persons (a near-uniform block pools like average pooling)."""
    peaks = {name: float(np.median(maps.reshape(len(maps), -1).max(axis=1) * maps[0].size))
             for name, maps in (run.result.attention or {}).items() if len(maps)}
    return [(f"{name} (peak α {peak:.1f}x uniform)", name) for name, peak in
            sorted(peaks.items(), key=lambda item: -item[1])]


# ----------------------------------------------------------------------------------- model cards

@user_errors
def model_card(model: str) -> str:
    """One line on the chosen model: the source of its weights and their measured AP, or 'untrained'."""
    return state.model_card(model)


# ---------------------------------------------------------------------------------------- predict

@state.on_gpu
@user_errors
def predict(image: str | None, model: str, input_size: str, detector: str, flip_test: bool, boxes_text: str,
            kpt_thr: float, box_thr: float, show_boxes: bool, label: str
            ) -> tuple[np.ndarray, pd.DataFrame, str, str, str, str, Session, Any, Any]:
    """Detect persons and estimate their poses; cache everything for redraws.

    Returns:
        overlay, persons table, timings, notes, COCO JSON path, overlay PNG path, the session, and
        updates of the person dropdown (heatmaps/attention/attribution) and of the GC block dropdown.
    """
    if image is None:
        raise UsageError("no image: upload, paste or take a webcam snapshot, or pick an example")
    if model not in state.enabled_models():
        raise UsageError(f"model {model!r} is not available here; choose one of {', '.join(state.enabled_models())}")
    img, load_notes = load_image_with_notes(image, name=Path(image).name)
    boxes = parse_boxes(boxes_text) if detector == "boxes" else None
    det = MODELS.detector("full" if detector == "boxes" else detector)
    est, loaded = MODELS.estimator(model, det, input_size, bool(flip_test))
    spec = get_spec(model)
    with loaded.lock:
        result = est(img, boxes=boxes, return_heatmaps=True, return_crops=True,
                     return_attention=spec.family == "hrgcnet", time_limit_s=state.REQUEST_TIME_LIMIT_S)
    display, scale = state.display_image(img)
    source = str(image)
    image_id = image_id_from_file_name(Path(source).name) or 0
    run = Run(result=result, display=display, display_scale=scale, model=model, input_size=input_size,
              flip_test=bool(flip_test), detector="boxes" if detector == "boxes" else state.detector_text(det),
              untrained=loaded.untrained, source=source, image_id=image_id, load_notes=list(load_notes),
              backend=est.backend, settings=(model, input_size, detector, bool(flip_test)))
    session = Session(run=run)
    overlay = _draw(run, kpt_thr, box_thr, show_boxes, label)
    json_path, png_path = _downloads(run, overlay, box_thr)
    people = _person_choices(run)
    blocks = _block_choices(run)
    person_update = gr.update(choices=people, value=people[0][1] if people else None)
    block_update = gr.update(choices=blocks, value=blocks[0][1] if blocks else None)
    return (overlay, _persons_table(run, kpt_thr, box_thr), _timings(run), _notes(run, box_thr), json_path, png_path,
            session, person_update, block_update)


@user_errors
def redraw(session: Session | None, kpt_thr: float, box_thr: float, show_boxes: bool, label: str
           ) -> tuple[np.ndarray, pd.DataFrame, str, str, str, np.ndarray | None]:
    """Redraw the cached result with new thresholds / display options (no network call).

    Returns the overlay, the persons table, the COCO JSON and PNG paths, the notes (their first line counts the
    persons shown at ``box_thr``) and the merged heatmaps of the shown persons on the image (None without persons).
    Without cached results (before any run, or after they expired: ``STATE_TTL_S`` after the last write) there
    is nothing to redraw: every output is left as it is and a warning (not an error) says why.
    """
    if session is None or session.run is None:
        gr.Warning(f"Nothing redrawn: {no_results_message()}.")
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    run = session.run
    overlay = _draw(run, kpt_thr, box_thr, show_boxes, label)
    json_path, png_path = _downloads(run, overlay, box_thr)
    on_image = _heatmaps_on_image(run, box_thr) if len(run.result) and run.result.heatmaps is not None else None
    return overlay, _persons_table(run, kpt_thr, box_thr), json_path, png_path, _notes(run, box_thr), on_image


# ---------------------------------------------------------------------------------------- compare

def counterpart(model: str) -> str:
    """The model of the other family at the same width (hrgcnet-w32 <-> hrnet-w32), among the enabled
    models; else any enabled model of the other family."""
    spec = get_spec(model)
    other_family = "hrnet" if spec.family == "hrgcnet" else "hrgcnet"
    candidates = [n for n in state.enabled_models() if get_spec(n).family == other_family]
    if not candidates:
        raise UsageError(f"no {other_family.upper()} model is available to compare {spec.label} with")
    same_width = [n for n in candidates if get_spec(n).width == spec.width]
    return (same_width or candidates)[0]


def _compare_outputs(session: Session, kpt_thr: float, box_thr: float
                     ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, go.Figure, str]:
    """HRNet overlay, HRGCNet overlay, per-keypoint table, bar plot and OKS summary of a cached comparison.

    Persons below ``box_thr`` are left out; keypoints that either model scores below ``kpt_thr`` (those the
    overlays do not draw) are left out of the distances (empty cells) and of the OKS.
    """
    run, other = session.run, session.other
    hrnet_run, hrgc_run = (other, run) if get_spec(run.model).family == "hrgcnet" else (run, other)
    keep = _shown(run, box_thr)
    kpts_a, kpts_b = hrnet_run.result.keypoints[keep], hrgc_run.result.keypoints[keep]
    cmp = compare_keypoints(kpts_a, kpts_b, run.result.boxes[keep], min_keypoint_score=float(kpt_thr))
    normalized = cmp.counted_distances()  # (N, K), NaN where either model scores below kpt_thr
    table = pd.DataFrame({"keypoint": list(KEYPOINT_NAMES)})
    fig = go.Figure()
    for j, i in enumerate(keep):
        table[f"#{i} distance / box size"] = np.round(normalized[j], 4)
        fig.add_trace(go.Bar(name=f"person #{i}", x=list(KEYPOINT_NAMES), y=normalized[j]))
    table["mean distance / box size"] = np.round(cmp.per_keypoint_mean(), 4)
    table["mean distance (px)"] = np.round(cmp.per_keypoint_mean(pixels=True), 1)
    a, b = get_spec(hrnet_run.model).label, get_spec(hrgc_run.model).label
    fig.update_layout(barmode="group", title=f"{a} vs {b}: keypoint distance / sqrt(box area)",
                      yaxis_title="distance / box size", xaxis_tickangle=-45, height=420,
                      margin=dict(l=40, r=10, t=50, b=100))
    if len(keep):
        oks = ", ".join(f"#{i}: " + ("n/a" if np.isnan(v) else f"{v:.3f}") for i, v in zip(keep, cmp.oks))
        mean = "n/a" if np.isnan(cmp.oks).all() else f"{float(np.nanmean(cmp.oks)):.3f}"
        summary = (f"**{a}** (left) vs **{b}** (right) on the same {len(keep)} box(es), over the keypoints both "
                   f"score at least {float(kpt_thr):.2f} (the others are left out; n/a: none). OKS-like similarity "
                   f"of the two predictions, 1 = identical, with the **box area** as the scale (COCO's OKS uses "
                   f"the annotated segment area, which is smaller, so this is more lenient than COCO's): {oks}; "
                   f"mean {mean}.")
    else:
        summary = "No person passes the box threshold: nothing to compare."
    if run.untrained or other.untrained:
        summary += "\n\n⚠️ Untrained weights: the disagreement measures two random networks."
    return (_draw(hrnet_run, kpt_thr, box_thr), _draw(hrgc_run, kpt_thr, box_thr), table, fig, summary)


@state.on_gpu
@user_errors
def compare(image: str | None, session: Session | None, kpt_thr: float, box_thr: float
            ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, go.Figure, str, Session]:
    """Run the other family's model (HRNet <-> HRGCNet) on the same boxes and measure the disagreement.

    Returns the HRNet overlay, the HRGCNet overlay, the per-keypoint table, the plot, a summary with the
    OKS between the two predictions, and the session (now holding both runs).
    """
    run = _need_run(session)
    if image is None or str(image) != run.source:
        raise UsageError("the input image changed since the last run: press 'Estimate poses' first")
    other_name = counterpart(run.model)
    img, _ = load_image_with_notes(image, name=Path(image).name)
    # the same boxes, person for person: no OKS-NMS, which could drop a person in one model only
    est, loaded = MODELS.estimator(other_name, MODELS.detector("full"), run.input_size, run.flip_test, oks_nms=False)
    res = run.result
    with loaded.lock:
        other_res = est(img, boxes=res.boxes, box_scores=res.box_scores, time_limit_s=state.REQUEST_TIME_LIMIT_S)
    other = Run(result=other_res, display=run.display, display_scale=run.display_scale, model=other_name,
                input_size=run.input_size, flip_test=run.flip_test, detector="boxes of " + run.model,
                untrained=loaded.untrained, source=run.source, image_id=run.image_id, backend=est.backend)
    session = Session(run=run, other=other)
    return (*_compare_outputs(session, kpt_thr, box_thr), session)


@user_errors
def redraw_compare(session: Session | None, kpt_thr: float, box_thr: float
                   ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, go.Figure, str]:
    """Redraw the cached comparison with new thresholds (no network call); outputs are left as they are
    before the first comparison of the current run (``predict`` clears them: :func:`clear_compare`)."""
    if session is None or session.run is None or session.other is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return _compare_outputs(session, kpt_thr, box_thr)


COMPARE_COLUMNS = ["keypoint", "mean distance / box size", "mean distance (px)"]


def clear_compare() -> tuple[None, None, pd.DataFrame, None, str]:
    """Empty comparison outputs (after a new 'Estimate poses': an old image's comparison must not stay)."""
    return None, None, pd.DataFrame(columns=COMPARE_COLUMNS), None, ""


# --------------------------------------------------------------------------------------- heatmaps

@user_errors
def heatmaps(session: Session | None, person: int | None, box_thr: float = state.BOX_THRESHOLD
             ) -> tuple[go.Figure, np.ndarray, np.ndarray]:
    """One person's heatmaps: an interactive 17-keypoint grid, the merged overlay on the crop, and the merged
    heatmaps on the image of the persons the overlay shows (box score >= ``box_thr``)."""
    run = _need_run(session)
    return _heatmap_outputs(run, _person(run, person), box_thr)


@user_errors
def heatmaps_after_predict(session: Session | None, person: int | None, box_thr: float = state.BOX_THRESHOLD
                           ) -> tuple[Any, Any, Any]:
    """:func:`heatmaps` for the step after 'Estimate poses': empty outputs instead of an error when nobody was
    found (the notes already say so), so that no old image's heatmaps stay."""
    if session is None or session.run is None or len(session.run.result) == 0:
        return None, None, None
    return _heatmap_outputs(session.run, _person(session.run, person), box_thr)


def _heatmap_outputs(run: Run, i: int, box_thr: float) -> tuple[go.Figure, np.ndarray, np.ndarray]:
    res = run.result
    hm = res.heatmaps[i]  # (K, h, w)
    cols = 6
    rows = -(-(hm.shape[0] + 1) // cols)
    titles = ["all (max)"] + list(KEYPOINT_NAMES[: hm.shape[0]])
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.06)
    maps = [hm.max(axis=0)] + list(hm)
    for t, m in enumerate(maps):
        r, c = divmod(t, cols)
        fig.add_trace(go.Heatmap(z=m, coloraxis="coloraxis", name=titles[t],
                                 hovertemplate=f"{titles[t]}<br>x %{{x}}, y %{{y}}<br>value %{{z:.3f}}<extra></extra>"),
                      row=r + 1, col=c + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    for t in range(len(maps)):  # square heatmap pixels: the crop's aspect ratio
        suffix = "" if t == 0 else str(t + 1)
        fig.layout[f"yaxis{suffix}"].scaleanchor = f"x{suffix}"
    fig.update_layout(coloraxis=dict(colorscale="Jet"), height=230 * rows, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"person #{i}: heatmaps ({hm.shape[1]}x{hm.shape[2]}, 1/4 of the {run.input_size} crop)")
    merged = viz.enlarge(viz.heatmap_overlay(res.crops[i], hm))  # a crop is small: shown large enough to read
    return fig, merged, _heatmaps_on_image(run, box_thr)


def _heatmaps_on_image(run: Run, box_thr: float) -> np.ndarray:
    """The merged heatmaps of the persons shown at ``box_thr`` (the overlay's persons), on the display image."""
    return viz.heatmaps_on_image(run.display, _scaled_result(run).select(_shown(run, box_thr)))


def _scaled_result(run: Run):
    """The result with centers/scales in display pixels (for drawing on ``run.display``)."""
    from dataclasses import replace

    res = run.result
    return replace(res, center=res.center * run.display_scale, scale=res.scale * run.display_scale)


# -------------------------------------------------------------------------------------- attention

HEATMAPS_NOTE = (
    "**What this shows.** For each of the 17 keypoints the network outputs a heatmap over the person's crop (1/4 of "
    "its size); the keypoint is placed at the heatmap's peak, refined to a fraction of a cell by the shape of the "
    "blurred peak (DARK), and its score is the peak's height. With the flip test the heatmaps are averaged with those of the "
    "mirrored crop. A sharp single peak is a confident keypoint; a flat or double-peaked map is a guess.")

ATTENTION_NOTE = (
    "**What this shows.** A GC block pools its whole feature map into one context vector with weights "
    "α = softmax(W_k x) over all h·w positions (α sums to 1), then adds that vector back at every position. "
    "GC attention is *query-independent*: there is **one global map per block** (and per person), not one map per "
    "position as in non-local attention. Bright cells are where this block looks to build its context.")


@user_errors
def attention(session: Session | None, person: int | None, block: str | None
              ) -> tuple[np.ndarray, go.Figure, str]:
    """One GC block's attention map α for one person: overlay on the crop, interactive map, and a note."""
    run = _need_run(session)
    i = _person(run, person)
    if not run.result.attention:
        raise UsageError(_no_gc_blocks(run))
    return _attention_outputs(run, i, block)


def _no_gc_blocks(run: Run) -> str:
    return (f"{get_spec(run.model).label} has no GC blocks (plain HRNet): run an HRGCNet model to see "
            "GC attention maps")


@user_errors
def attention_after_predict(session: Session | None, person: int | None, block: str | None
                            ) -> tuple[Any, Any, str]:
    """:func:`attention` for the steps after 'Estimate poses' and after choosing a person: empty maps and a note
    instead of an error for a plain HRNet (no GC blocks) or an image without persons, so that no old image's
    maps stay and no error is shown for something the user did not ask for."""
    if session is None or session.run is None:
        return None, None, ATTENTION_NOTE
    run = session.run
    if get_spec(run.model).family != "hrgcnet" or (len(run.result) and not run.result.attention):
        return None, None, f"**{_no_gc_blocks(run)}.**\n\n{ATTENTION_NOTE}"
    if len(run.result) == 0:
        return None, None, f"**No person was found in this image: no attention map to show.**\n\n{ATTENTION_NOTE}"
    return _attention_outputs(run, _person(run, person), block)


def _attention_outputs(run: Run, i: int, block: str | None) -> tuple[np.ndarray, go.Figure, str]:
    maps = run.result.attention
    if not block:
        block = _block_choices(run)[0][1]  # the most peaked
    if block not in maps:
        raise UsageError(f"no GC block named {block!r}; choose one of: {', '.join(list(maps)[:6])}, ...")
    alpha = maps[block][i]  # (h, w)
    overlay = viz.enlarge(viz.attention_overlay(run.result.crops[i], alpha - alpha.min()))  # colours: min..max α
    h, w = alpha.shape
    uniform = 1.0 / (h * w)
    p = alpha[alpha > 0].astype(np.float64)
    entropy = float(-(p * np.log(p)).sum() / np.log(h * w)) if h * w > 1 else 0.0
    fig = go.Figure(go.Heatmap(z=alpha, colorscale="Jet",
                               hovertemplate="x %{x}, y %{y}<br>α %{z:.5f}<extra></extra>"))
    # the axes span the map and no more (square cells)
    fig.update_xaxes(range=[-0.5, w - 0.5], constrain="domain")
    fig.update_yaxes(range=[h - 0.5, -0.5], scaleanchor="x", constrain="domain")
    fig.update_layout(title=f"{block}: α ({h}x{w}), person #{i}", height=420, margin=dict(l=10, r=10, t=40, b=10))
    stride = run.result.input_hw[0] // h
    note = (f"{ATTENTION_NOTE} Colours on the crop span this map's smallest to largest α.\n\n"
            f"`{block}`: map {h}x{w} (1/{stride} of the crop); max α = "
            f"{alpha.max() / uniform:.1f}x uniform (1/{h * w}); normalised entropy {entropy:.3f} (1 = uniform).")
    if run.untrained:
        note += "\n\n⚠️ Untrained weights: these maps come from a random initialisation."
    return overlay, fig, note


# ------------------------------------------------------------------------------------ attribution

@state.on_gpu
@user_errors
def attribution(session: Session | None, person: int | None, keypoint: str, method: str, n_steps: int,
                progress: gr.Progress = gr.Progress()) -> tuple[np.ndarray, str]:
    """Which crop pixels drive one keypoint's heatmap peak (captum), within a time bound on CPU."""
    run = _need_run(session)
    i = _person(run, person)
    if keypoint not in KEYPOINT_NAMES:
        raise UsageError(f"unknown keypoint {keypoint!r}; choose one of {', '.join(KEYPOINT_NAMES)}")
    if method not in ATTRIBUTION_METHODS:
        raise UsageError(f"unknown method {method!r}; choose one of {', '.join(ATTRIBUTION_METHODS)}")
    k = KEYPOINT_NAMES.index(keypoint)
    loaded = MODELS.model(run.model)
    crop = run.result.crops[i]

    def report(fraction: float, message: str) -> None:
        progress(fraction, desc=message)

    with loaded.lock:
        attr = attribute_keypoint(loaded.estimator.model, crop, k, method=method, n_steps=int(n_steps),
                                  time_budget_s=state.ATTRIBUTION_BUDGET_S, progress=report)
    overlay = viz.enlarge(viz.attention_overlay(crop, attr.magnitude, interpolation="bilinear"))
    stride = crop.shape[0] / run.result.heatmaps.shape[2]
    peak = (int(round((attr.peak_xy[0] + 0.5) * stride)), int(round((attr.peak_xy[1] + 0.5) * stride)))
    cv2.drawMarker(overlay, peak, (255, 255, 255), cv2.MARKER_CROSS, max(8, crop.shape[1] // 12), 2)
    name = "Integrated Gradients" if attr.method == "integrated_gradients" else "Saliency"
    text = (f"**{name}** of the `{keypoint}` heatmap peak (white cross) of person #{i}, w.r.t. the "
            f"{run.input_size} crop: {attr.n_steps} path point(s), {attr.elapsed_s:.1f} s. Bright = pixels whose "
            "change moves the peak most.")
    for note in attr.notes:
        text += f"\n- {note}"
    if run.untrained:
        text += "\n\n⚠️ Untrained weights: the attribution explains a random network."
    return overlay, text


# ---------------------------------------------------------------------------------------- boxes

def add_box_corner(pending: list | None, boxes_text: str, evt: gr.SelectData) -> tuple[list | None, str, str, Any]:
    """A click on the input image: the first click stores a corner, the second adds the box.

    Returns the pending corner, the boxes text, a hint, and the detector update ('boxes' once a box exists).
    """
    x, y = (float(v) for v in evt.index[:2])
    if not pending:
        return [x, y], boxes_text, f"corner ({x:.0f}, {y:.0f}) set: click the opposite corner", gr.update()
    x0, y0 = pending
    box = [min(x0, x), min(y0, y), max(x0, x), max(y0, y)]
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return None, boxes_text, "box too small: click two opposite corners", gr.update()
    text = "; ".join(t for t in ((boxes_text or "").strip(), format_boxes(np.array(box))) if t)
    return None, text, f"box added ({format_boxes(np.array(box))}); detector set to 'my boxes'", gr.update(value="boxes")


BOX_HINT = "Click two opposite corners on the input image to add a box."


def new_image(pending: list | None, boxes_text: str | None) -> tuple[None, str, str]:
    """The input image changed (upload, paste, snapshot, example, cleared): boxes belong to the old image.

    Returns the pending corner (None), the boxes text (cleared) and the hint (saying what was cleared).
    """
    if pending or (boxes_text or "").strip():
        return None, "", f"New image: the boxes of the previous image were cleared. {BOX_HINT}"
    return None, "", BOX_HINT


# ------------------------------------------------------------------------------------------ live

@user_errors
def live(frame: np.ndarray | None, live_state: LiveState | None, model: str, detector: str, input_size: str,
         flip_test: bool, kpt_thr: float, box_thr: float, request: gr.Request = None
         ) -> tuple[Any, str, LiveState]:
    """One live-webcam frame: the overlay (unchanged when the frame is skipped), the FPS status, the state."""
    key = getattr(request, "session_hash", None) or "api"
    overlay, status, live_state = process_frame(frame, live_state, model, detector, input_size, flip_test,
                                                kpt_thr, box_thr, session_key=key)
    return (gr.skip() if overlay is None else overlay), status, live_state


def live_tracking(live_state: LiveState | None, on: bool) -> LiveState:
    """The Live tab's "smooth + track" checkbox: stored in the session's live state, which a running stream reads at
    its next frame (not an input of ``/live``, whose parameters stay as they were)."""
    return set_tracking(live_state, on)
