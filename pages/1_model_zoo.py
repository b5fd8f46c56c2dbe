"""Model zoo & complexity: measured params and GFLOPs of every model beside the paper's Table I/II, and Fig. 3."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from hrgcnet.analysis.common import INPUT_SIZES, label, untrained_message
from hrgcnet.analysis.complexity import GFLOPS_CONVENTION, paper_points, profile_fast, with_paper
from hrgcnet.models import list_models
from hrgcnet.models.profile import PAPER_TABLE1
from hrgcnet.models.registry import get_spec, preset_description

# A first visit at a page URL runs this file in Streamlit's legacy pages/ mode; hand over to streamlit_app.py's
# st.navigation instead (same URLs), so the sidebar is always the app's.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

st.set_page_config(page_title="Model zoo & complexity · HRGCNet", layout="wide")


@st.cache_data(show_spinner=False)
def measure(name: str, input_hw: tuple[int, int]) -> dict:
    return profile_fast(name, input_hw)


def complexity_rows() -> list[dict]:
    jobs = [(n, hw) for hw in INPUT_SIZES[:2] for n in list_models()]
    bar = st.progress(0.0, text="Counting parameters and MACs…")
    rows = []
    for i, (name, hw) in enumerate(jobs):
        bar.progress(i / len(jobs), text=f"Counting {name} at {hw[0]}x{hw[1]}…")
        rows.append(with_paper(measure(name, hw)))
    bar.empty()
    return rows


st.title("Model zoo & complexity")
st.caption(f"Measured live from the library: {GFLOPS_CONVENTION}; convolutions and matrix products (incl. the GC "
           "attention pooling) are counted, BN/ReLU/softmax/upsampling/additions are not. Columns marked "
           "**paper** are copied from the HRGCNet paper's Table I (COCO val) and Table II.")

if msg := untrained_message():
    st.warning(msg + " Parameter and MAC counts do not depend on the weights.")

rows = complexity_rows()
table = pd.DataFrame(rows)[["model", "label", "preset", "input_size", "params", "gflops", "paper_params_m",
                            "paper_gflops", "paper_ap", "params_vs_paper_%", "gflops_vs_paper_%"]].rename(columns={
    "input_size": "input size", "gflops": "GFLOPs", "paper_params_m": "paper params (M)", "paper_gflops": "paper GFLOPs",
    "paper_ap": "paper AP", "params_vs_paper_%": "params vs paper %", "gflops_vs_paper_%": "GFLOPs vs paper %"})
st.subheader("Measured complexity vs the paper")
st.dataframe(table, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3, column_config={
    "params": st.column_config.NumberColumn("params (ours)", format="localized"),
    "GFLOPs": st.column_config.NumberColumn("GFLOPs (ours)", format="%.3f"),
    "paper params (M)": st.column_config.NumberColumn(format="%.1f"),
    "paper GFLOPs": st.column_config.NumberColumn(format="%.2f"),
    "paper AP": st.column_config.NumberColumn(format="%.1f"),
    "params vs paper %": st.column_config.NumberColumn(format="%+.2f"),
    "GFLOPs vs paper %": st.column_config.NumberColumn(format="%+.2f"),
})
st.download_button("Download the table (CSV)", table.to_csv(index=False), "complexity.csv", "text/csv")

with st.expander("Presets"):
    st.table(pd.DataFrame([{"model": n, "label": label(n), "preset": get_spec(n).preset or "-",
                            "what it is": preset_description(n)} for n in list_models()]))

# ---------------------------------------------------------------------------------- inconsistency
by = {(r["model"], r["input_size"]): r for r in rows}
hr, txt, t1 = by[("hrnet-w32", "256x192")], by[("hrgcnet-w32", "256x192")], by[("hrgcnet-w32-table1", "256x192")]
t1_48, p48 = by[("hrgcnet-w48-table1", "256x192")], PAPER_TABLE1[("hrgcnet-w48", "256x192")]
p32, phr = PAPER_TABLE1[("hrgcnet-w32", "256x192")], PAPER_TABLE1[("hrnet-w32", "256x192")]
extra_m = p32["params_m"] - phr["params_m"]
st.subheader("Why two HRGCNet presets: the paper's parameter/FLOP inconsistency")
st.markdown(f"""
The paper's text puts *lightweight* bottlenecks (depthwise-separable 3×3 + GC block) in the high-resolution
subnet, but its Table I reports **{p32['params_m']}M params / {p32['gflops']} GFLOPs** (paper) for HRGCNet-W32 —
{extra_m:.1f}M more parameters than HRNet-W32 ({phr['params_m']}M / {phr['gflops']} GFLOPs, paper) at about the
same cost. Counted from the architecture (numbers above, live):

* **`text` preset** (`hrgcnet-w32`, the paper's text): {txt['params']:,} params and {txt['gflops']:.3f} GFLOPs —
  {txt['params'] - hr['params']:+,} params and {txt['gflops'] - hr['gflops']:+.3f} GFLOPs vs HRNet-W32
  ({hr['params']:,}, {hr['gflops']:.3f}). Depthwise-separable convolutions *lower* the cost; a stage-1-only change
  cannot add {extra_m:.1f}M parameters.
* **`table1` preset** (`hrgcnet-w32-table1`, GC blocks with r = 1/2 in every stage-4 BasicBlock, standard stage 1):
  {t1['params']:,} params and {t1['gflops']:.3f} GFLOPs — reproduces Table I's W32 row
  ({t1['params_vs_paper_%']:+.2f}% params, {t1['gflops_vs_paper_%']:+.2f}% GFLOPs).
* No single placement reproduces both rows: the same `table1` placement at W48 gives {t1_48['params']:,} params
  vs the paper's {p48['params_m']}M ({t1_48['params_vs_paper_%']:+.2f}%).

HRNet's own rows match the official counts (HRNet-W32 {hr['params']:,} params, {hr['gflops']:.3f} GFLOPs at
256×192). See the README section *Models and presets*.
""")

# ---------------------------------------------------------------------------------- Fig. 3
st.subheader("Fig. 3: AP vs GFLOPs on COCO val, bubble = params")
FIG3_SIZES = ["256x192", "384x288"]  # the paper's
size = st.radio("Input size", FIG3_SIZES, horizontal=True, key="fig3_size")
points = paper_points(size)
measured_ap = st.session_state.get("measured_ap", {})  # {input size: {model: {"ap", "source"}}}, from the Evaluation page
fig = go.Figure()
colors = {"HRNet": "#1f77b4", "HRGCNet": "#d62728", "other": "#7f7f7f"}
for family in ("other", "HRNet", "HRGCNet"):
    pts = [p for p in points if p["family"] == family]
    if not pts:
        continue
    fig.add_trace(go.Scatter(
        x=[p["gflops"] for p in pts], y=[p["ap"] for p in pts], mode="markers+text",
        text=[p["method"] for p in pts], textposition="top center", name=f"paper: {family}",
        marker=dict(size=[p["params_m"] for p in pts], sizemode="area", sizeref=2 * 70 / 45 ** 2, sizemin=4,
                    color=colors[family], opacity=0.55, line=dict(width=1, color="black")),
        customdata=[p["params_m"] for p in pts],
        hovertemplate="%{text} (paper)<br>GFLOPs %{x}<br>AP %{y}<br>params %{customdata}M<extra></extra>"))
ours = [(m, r) for (m, s), r in by.items() if s == size and m in measured_ap.get(size, {})]
if ours:
    fig.add_trace(go.Scatter(
        x=[r["gflops"] for _, r in ours], y=[measured_ap[size][m]["ap"] for m, _ in ours], mode="markers+text",
        text=[f"{label(m)} (ours)" for m, _ in ours], textposition="bottom center", name="ours: measured AP",
        customdata=[measured_ap[size][m]["source"] for m, _ in ours],
        hovertemplate="%{text}<br>GFLOPs %{x:.3f}<br>AP %{y:.1f}<br>%{customdata}<extra></extra>",
        marker=dict(symbol="diamond", size=[r["params"] / 1e6 for _, r in ours], sizemode="area",
                    sizeref=2 * 70 / 45 ** 2, sizemin=6, color="#2ca02c", line=dict(width=2, color="black"))))
mine = [(m, r) for (m, s), r in by.items() if s == size]
fig.add_trace(go.Scatter(
    x=[r["gflops"] for _, r in mine], y=[min(p["ap"] for p in points) - 1.5] * len(mine), mode="markers",
    name="ours: measured GFLOPs (no AP)", marker=dict(symbol="triangle-up", size=12, color="#2ca02c"),
    text=[f"{label(m)}: {r['gflops']:.3f} GFLOPs, {r['params']:,} params (measured)" for m, r in mine],
    hovertemplate="%{text}<extra></extra>"))
fig.update_layout(xaxis_title=f"GFLOPs ({GFLOPS_CONVENTION.split('=')[1].strip()})", yaxis_title="AP (COCO val)",
                  height=560, legend_title="source")
st.plotly_chart(fig, width="stretch")
if ours:
    st.success("Measured APs (green diamonds, ours): " + "; ".join(
        f"{label(m)} {measured_ap[size][m]['ap']:.1f} AP ({measured_ap[size][m]['source']})" for m, _ in ours)
        + ". Check the split before comparing with the paper's full COCO val.")
else:
    st.info(f"No measured AP at {size} yet: every bubble is a **paper** value. Green triangles along the bottom "
            "mark our measured GFLOPs of each model (hover for details); a measured AP appears here once an "
            "evaluation of trained weights is loaded on the Evaluation page.")
elsewhere = [(s, m, r) for s, by_model in measured_ap.items() if s not in FIG3_SIZES for m, r in by_model.items()]
if elsewhere:
    st.info("Measured at input sizes the paper does not report (not drawn; not comparable with its points): "
            + "; ".join(f"{label(m)} {r['ap']:.1f} AP at {s} ({r['source']})" for s, m, r in elsewhere) + ".")
