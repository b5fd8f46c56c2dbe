"""Heatmaps: per-keypoint heatmaps of HRNet and HRGCNet side by side for the same persons, and their difference."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from hrgcnet.analysis.common import (INPUT_SIZES, analysis_estimator, default_input_index, example_images,
                                     image_with_keypoints_traces, input_size_help, label, size_text, untrained_message)
from hrgcnet.detectors import create_detector
from hrgcnet.errors import HRGCNetError
from hrgcnet.io import load_image_with_notes
from hrgcnet.models import list_models
from hrgcnet.pipeline import DEFAULT_MAX_PERSONS, PoseEstimator, highest_scores
from hrgcnet.structures import KEYPOINT_NAMES

# A first visit at a page URL runs this file in Streamlit's legacy pages/ mode; hand over to streamlit_app.py's
# st.navigation instead (same URLs), so the sidebar is always the app's.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

st.set_page_config(page_title="Heatmaps · HRGCNet", layout="wide")
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]


@st.cache_resource(show_spinner="Loading the person detector…", max_entries=3)
def get_detector(name: str):
    return create_detector(name)


@st.cache_resource(show_spinner="Building the model…", max_entries=4)
def get_estimator(model: str, input_hw: tuple[int, int], flip_test: bool) -> PoseEstimator:
    return analysis_estimator(model, input_hw, flip_test, every_box=True)  # persons line up across models


@st.cache_data(show_spinner=False, max_entries=20)
def detect(image: np.ndarray, detector: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    det = get_detector(detector)
    out = det(image)
    keep, note = highest_scores(out.box_scores, DEFAULT_MAX_PERSONS)
    notes = list(det.notes) + list(out.notes) + ([note] if note else [])
    return out.boxes[keep].astype(np.float64), out.box_scores[keep].astype(np.float64), notes


@st.cache_data(show_spinner=False, max_entries=20)
def predict(model: str, input_hw: tuple[int, int], flip_test: bool, image: np.ndarray, boxes: np.ndarray,
            box_scores: np.ndarray) -> dict:
    res = get_estimator(model, input_hw, flip_test)(image, boxes=boxes, box_scores=box_scores,
                                                     return_heatmaps=True, return_crops=True)
    return {"keypoints": res.keypoints, "heatmaps": res.heatmaps, "crops": res.crops, "boxes": res.boxes,
            "notes": res.notes, "pose_ms": res.timings["pose_ms"]}


def pick_image() -> np.ndarray | None:
    """The image chosen by the user: an example from assets/ or an upload; None (with a message) if none."""
    examples = example_images()
    source = st.radio("Image", ["example", "upload"] if examples else ["upload"], horizontal=True,
                      format_func={"example": "example image", "upload": "upload your own"}.get)
    if source == "example":
        data, name = st.selectbox("Example", examples, format_func=lambda p: p.name), None
    else:
        up = st.file_uploader("Image file", type=UPLOAD_TYPES)
        if up is None:
            st.info("Upload an image (JPEG, PNG, WebP, BMP or TIFF).")
            return None
        data, name = up.getvalue(), up.name
    try:
        image, notes = load_image_with_notes(data, name=name)
    except HRGCNetError as exc:
        st.error(f"Cannot use this image: {exc}")
        return None
    for note in notes:  # e.g. EXIF rotation applied, alpha dropped
        st.caption(f"Note: {note}")
    return image


st.title("Heatmaps")
st.caption("Per-keypoint heatmaps (1/4 of the input size) of the same person crops for each model, from "
           "`PoseEstimator(..., return_heatmaps=True)`; person boxes from one detector, shared by all models.")
untrained_warning = st.empty()  # about the models chosen below and those whose maps are shown

left, right = st.columns([1, 2])
with left:
    image = pick_image()
    models = st.multiselect("Models", list_models(), default=["hrnet-w32", "hrgcnet-w32"], format_func=label,
                            max_selections=4)
    detector = st.selectbox("Person detector", ["auto", "nanodet", "ssd", "full", "yolo"],
                            help="auto: YOLO when its weights are available, else NanoDet-g; nanodet: offline "
                                 "NanoDet-g (committed weights); ssd: offline SSDLite (OpenVINO, weaker); full: the "
                                 "whole image is one person; yolo: Ultralytics weights if present locally, else "
                                 "falls back to nanodet.")
    first = models[0] if models else "hrgcnet-w32"
    input_hw = st.selectbox("Input size", INPUT_SIZES, format_func=size_text, index=default_input_index(first),
                            help=input_size_help(first))
    flip = st.checkbox("Flip test", value=True, help="On, as in the Gradio app and `hrgcnet eval`: the heatmaps of "
                       "the crop and of its mirror image, averaged (twice the time).")
    run = st.button("Run models", type="primary", disabled=image is None or not models)

if run and image is not None:
    with st.status("Running…", expanded=False) as status:
        boxes, box_scores, det_notes = detect(image, detector)
        if len(boxes) == 0:
            status.update(label="No person found", state="error")
            st.session_state.pop("heatmaps_run", None)
        else:
            bar = st.progress(0.0)
            outputs = {}
            for i, m in enumerate(models):
                bar.progress(i / len(models), text=f"{label(m)}…")
                outputs[m] = predict(m, input_hw, flip, image, boxes, box_scores)
            bar.progress(1.0, text="Done")
            status.update(label="Done", state="complete")
            st.session_state["heatmaps_run"] = {"image": image, "boxes": boxes, "outputs": outputs,
                                                "notes": det_notes, "detector": detector, "input_hw": input_hw}
    if len(boxes) == 0:
        st.error(f"The {detector} detector found no person in this image; try the 'full' detector.")

state = st.session_state.get("heatmaps_run")
if msg := untrained_message(list(dict.fromkeys(models + list(state["outputs"] if state else [])))):
    untrained_warning.warning(msg)
if state is None:
    with right:
        st.info("Pick an image and models, then press **Run models**.")
    st.stop()

outputs: dict = state["outputs"]
names = list(outputs)
notes = sorted(set(state["notes"]) | {n for o in outputs.values() for n in o["notes"] if "untrained" not in n})
with right:
    fig = go.Figure(go.Image(z=state["image"]))
    for i, (m, out) in enumerate(outputs.items()):
        for p, kp in enumerate(out["keypoints"]):
            for t in image_with_keypoints_traces(kp, label(m), COLORS[i % len(COLORS)]):
                t.showlegend = t.showlegend is not False and p == 0 and t.mode == "markers"
                fig.add_trace(t)
    for p, b in enumerate(state["boxes"]):
        fig.add_shape(type="rect", x0=b[0], y0=b[1], x1=b[2], y1=b[3], line=dict(color="yellow", width=2))
        fig.add_annotation(x=b[0], y=b[1], text=f"person {p}", showarrow=False, yanchor="bottom", xanchor="left",
                           font=dict(color="yellow"))
    fig.update_layout(height=520, margin=dict(l=0, r=0, t=10, b=0), legend=dict(orientation="h"))
    st.plotly_chart(fig, width="stretch", key="overview")
    st.caption(f"{len(state['boxes'])} person(s) from the {state['detector']} detector at "
               f"{size_text(state['input_hw'])}; " + ", ".join(f"{label(m)} {o['pose_ms']:.0f} ms"
                                                              for m, o in outputs.items()))
    for n in notes:
        st.caption(f"Note: {n}")

person = st.selectbox("Person", range(len(state["boxes"])), format_func=lambda p: f"person {p}") \
    if len(state["boxes"]) > 1 else 0
st.subheader("All keypoints")
for m, out in outputs.items():
    hm = out["heatmaps"][person]
    fig = px.imshow(hm, facet_col=0, facet_col_wrap=9, color_continuous_scale="viridis", aspect="equal",
                    title=f"{label(m)}: heatmaps of person {person} (min {hm.min():.4f}, max {hm.max():.4f})")
    fig.for_each_annotation(lambda a: a.update(text=KEYPOINT_NAMES[int(a.text.split("=")[1])]))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    fig.update_layout(height=330, margin=dict(l=0, r=0, t=40, b=0))
    st.plotly_chart(fig, width="stretch", key=f"grid_{m}")
if len(names) >= 2:
    a, b = names[0], names[1]
    diff = outputs[b]["heatmaps"][person] - outputs[a]["heatmaps"][person]
    lim = float(np.abs(diff).max()) or 1.0
    fig = px.imshow(diff, facet_col=0, facet_col_wrap=9, color_continuous_scale="RdBu_r", zmin=-lim, zmax=lim,
                    title=f"Difference {label(b)} − {label(a)} (red: {label(b)} higher)")
    fig.for_each_annotation(lambda t: t.update(text=KEYPOINT_NAMES[int(t.text.split("=")[1])]))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    fig.update_layout(height=330, margin=dict(l=0, r=0, t=40, b=0))
    st.plotly_chart(fig, width="stretch", key="grid_diff")

st.subheader("One keypoint on the crop")
k = st.selectbox("Keypoint", range(len(KEYPOINT_NAMES)), format_func=lambda i: KEYPOINT_NAMES[i])
cols = st.columns(len(names))
for col, (i, (m, out)) in zip(cols, enumerate(outputs.items())):
    crop = out["crops"][person]
    hm = cv2.resize(out["heatmaps"][person, k], (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    fig = go.Figure([go.Image(z=crop), go.Heatmap(z=hm, colorscale="viridis", opacity=0.55, showscale=False)])
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=30, b=0), title=label(m))
    fig.update_yaxes(autorange="reversed")
    col.plotly_chart(fig, width="stretch", key=f"crop_{m}")

rows = []
for kk, name in enumerate(KEYPOINT_NAMES):
    row = {"keypoint": name}
    for m, out in outputs.items():
        row[f"score · {label(m)}"] = float(out["keypoints"][person, kk, 2])
    if len(names) >= 2:
        pa, pb = outputs[names[0]]["keypoints"][person, kk, :2], outputs[names[1]]["keypoints"][person, kk, :2]
        row[f"distance {label(names[0])} ↔ {label(names[1])} (px)"] = float(np.linalg.norm(pa - pb))
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in rows[0] if c != "keypoint"})
