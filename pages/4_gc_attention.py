"""GC attention: every GC block's attention map α for a person crop, simple statistics per block and stage, and a
comparison across several images."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from hrgcnet.analysis.attention import attention_stats, summarize_by
from hrgcnet.analysis.common import (INPUT_SIZES, analysis_estimator, default_input_index, example_images,
                                     input_size_help, label, size_text, untrained_message)
from hrgcnet.detectors import create_detector
from hrgcnet.errors import HRGCNetError
from hrgcnet.io import load_image, load_image_with_notes
from hrgcnet.models import get_spec, list_models
from hrgcnet.pipeline import PoseEstimator

# A first visit at a page URL runs this file in Streamlit's legacy pages/ mode; hand over to streamlit_app.py's
# st.navigation instead (same URLs), so the sidebar is always the app's.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

st.set_page_config(page_title="GC attention · HRGCNet", layout="wide")
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]
MASS = 0.9


@st.cache_resource(show_spinner="Loading the person detector…", max_entries=3)
def get_detector(name: str):
    return create_detector(name)


@st.cache_resource(show_spinner="Building the model…", max_entries=2)
def get_estimator(model: str, input_hw: tuple[int, int]) -> PoseEstimator:
    return analysis_estimator(model, input_hw)


@st.cache_data(show_spinner=False, max_entries=50)
def attention_of(model: str, input_hw: tuple[int, int], image: np.ndarray, detector: str) -> dict:
    """The first (highest box score) person's crop and GC attention maps ``{block: (h, w)}``; None if nobody."""
    det = get_detector(detector)(image)
    if len(det.boxes) == 0:
        return {"crop": None, "maps": {}, "box": None}
    best = int(np.argmax(det.box_scores))
    res = get_estimator(model, input_hw)(image, boxes=det.boxes[best:best + 1], box_scores=det.box_scores[best:best + 1],
                                         return_attention=True, return_crops=True)
    return {"crop": res.crops[0], "maps": {k: v[0] for k, v in res.attention.items()}, "box": res.boxes[0]}


def pick_images() -> dict[str, np.ndarray]:
    """``{name: image}`` chosen by the user: examples from assets/ and uploads (bad files are reported)."""
    examples = example_images()
    chosen = st.multiselect("Example images", examples, default=examples[:2], format_func=lambda p: p.name)
    uploads = st.file_uploader("…and/or upload images", type=UPLOAD_TYPES, accept_multiple_files=True)
    images = {}
    for src in chosen:
        images[src.name] = load_image(src)
    for up in uploads or []:
        try:
            images[up.name], notes = load_image_with_notes(up.getvalue(), name=up.name)
        except HRGCNetError as exc:
            st.error(str(exc))  # starts with the file name
            continue
        for note in notes:  # e.g. EXIF rotation applied, alpha dropped
            st.caption(f"Note: {note}")
    return images


st.title("GC attention")
st.caption("α = softmax over all H·W positions of the GC block's `conv_mask` logits: one map per block and person "
           "(query-independent), read with `PoseEstimator(..., return_attention=True)` "
           "(`hrgcnet.models.capture_gc_attention`). Statistics: normalised entropy H(α)/log(H·W) (1 = uniform "
           f"average pooling), effective support = share of positions holding {MASS:.0%} of α, peak = max α × H·W.")
untrained_warning = st.empty()  # about the model chosen below and the one whose maps are shown

gc_models = [m for m in list_models() if get_spec(m).family == "hrgcnet"]
left, right = st.columns([1, 2])
with left:
    images = pick_images()
    model = st.selectbox("Model", gc_models, format_func=label)
    detector = st.selectbox("Person detector", ["auto", "nanodet", "ssd", "full", "yolo"],
                            help="The highest-scoring person of each image is used.")
    input_hw = st.selectbox("Input size", INPUT_SIZES, format_func=size_text, index=default_input_index(model),
                            help=input_size_help(model))
    run = st.button("Compute attention", type="primary", disabled=not images)

if run:
    bar = st.progress(0.0)
    found = {}
    for i, (name, img) in enumerate(images.items()):
        bar.progress(i / len(images), text=f"{name}…")
        out = attention_of(model, input_hw, img, detector)
        if out["crop"] is None:
            st.warning(f"{name}: the {detector} detector found no person; skipped.")
        else:
            found[name] = out
    bar.progress(1.0, text="Done")
    st.session_state["attention_run"] = {"model": model, "input_hw": input_hw, "images": found}

state = st.session_state.get("attention_run")
shown_models = [model] if not state or state["model"] == model else [model, state["model"]]
if msg := untrained_message(shown_models):
    untrained_warning.warning(msg + " An untrained GC block's α is shaped by its random `conv_mask` only.")
if not state or not state["images"]:
    with right:
        st.info("Choose images and a model, then press **Compute attention**.")
    st.stop()

found = state["images"]
rows = []
for name, out in found.items():
    for r in attention_stats(out["maps"], MASS):
        rows.append({**r, "image": name})
stats = pd.DataFrame(rows)
order = list(next(iter(found.values()))["maps"])  # forward order
stats["position"] = stats["block"].map({b: i for i, b in enumerate(order)})

with right:
    st.markdown(f"**{label(state['model'])}** at {size_text(state['input_hw'])}: {len(order)} GC blocks, "
                f"{len(found)} image(s).")
    show = st.selectbox("Image", list(found))
    out = found[show]
    crop = out["crop"]
    c1, c2 = st.columns([1, 3])
    c1.image(crop, caption="person crop", width="stretch")
    per_stage = summarize_by([r for r in rows if r["image"] == show], "stage")
    c2.dataframe(pd.DataFrame(per_stage), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("entropy_norm", "support", "peak")})

st.subheader(f"All GC attention maps · {show}")
c1, c2 = st.columns(2)
scale = c1.radio("Colour scale", ["per map", "shared"], horizontal=True,
                 format_func={"per map": "per map (α / max α)", "shared": "shared (log10 of α × H·W)"}.get)
overlay = c2.toggle("Overlay on the crop", value=False)
h, w = crop.shape[:2]
stack = np.stack([cv2.resize(out["maps"][b] * out["maps"][b].size, (w // 4, h // 4), interpolation=cv2.INTER_NEAREST)
                  for b in order])  # α × H·W: 1 = uniform weight, resized to one common size
if scale == "per map":
    stack = stack / stack.max(axis=(1, 2), keepdims=True)
    color_label = "α / max α"
else:
    stack = np.log10(np.clip(stack, 1e-3, None))
    color_label = "log10(α × H·W)"
if overlay:  # the crop's brightness shades the maps: the colours are no longer α alone
    gray = cv2.cvtColor(cv2.resize(crop, (w // 4, h // 4)), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    stack = stack * (0.35 + 0.65 * gray[None]) if scale == "per map" else stack + np.log10(0.35 + 0.65 * gray[None])
    color_label += " × brightness" if scale == "per map" else " + log10(brightness)"
fig = px.imshow(stack, facet_col=0, facet_col_wrap=8, color_continuous_scale="viridis", aspect="equal",
                labels={"color": color_label}, zmin=float(stack.min()), zmax=float(stack.max()))
fig.for_each_annotation(lambda a: a.update(text=order[int(a.text.split("=")[1])].replace("module", "m")
                                           .replace("branch", "b").replace("block", "k"), font_size=9))
fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
fig.update_layout(height=170 * ((len(order) + 7) // 8), margin=dict(l=0, r=0, t=30, b=0))
st.plotly_chart(fig, width="stretch", key="maps")
st.caption("Maps resized to 1/4 of the crop (nearest); 'shared' shows α × H·W on a log scale (0 = the uniform "
           "weight of average pooling). Labels: stage, module m, branch b, block k."
           + (" **Overlay on**: each value is shaded by the crop's brightness (0.35 + 0.65 × grey level), so the "
              "colours show where the person is, not α itself; turn the overlay off to read α." if overlay else ""))

st.subheader("Statistics per block")
metric = st.radio("Statistic", ["entropy_norm", "support", "peak"], horizontal=True,
                  format_func={"entropy_norm": "normalised entropy", "support": f"effective support ({MASS:.0%})",
                               "peak": "peak (× uniform)"}.get)
fig = px.line(stats.sort_values("position"), x="position", y=metric, color="image", markers=True,
              hover_data=["block", "h", "w"], title=f"{metric} per GC block (forward order) for every image")
for s in sorted(stats["stage"].unique())[1:]:
    fig.add_vline(x=stats[stats["stage"] == s]["position"].min() - 0.5, line_dash="dot", line_color="gray",
                  annotation_text=f"stage {s}")
fig.update_layout(height=380)
st.plotly_chart(fig, width="stretch", key="per_block")

st.subheader("Comparison across images (mean per stage)")
by_image_stage = stats.groupby(["image", "stage"], as_index=False)[["entropy_norm", "support", "peak"]].mean()
fig = px.bar(by_image_stage, x="stage", y=metric, color="image", barmode="group")
fig.update_layout(height=340)
st.plotly_chart(fig, width="stretch", key="per_stage")
with st.expander("All statistics (table)"):
    st.dataframe(stats.drop(columns=["position"]), hide_index=True, width="stretch")
    st.download_button("Download (CSV)", stats.to_csv(index=False), "gc_attention_stats.csv", "text/csv")
