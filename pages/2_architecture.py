"""Architecture: HRNet vs HRGCNet — stages, branches, where the GC blocks and lightweight bottlenecks sit, and
where the parameters and MACs go."""

from __future__ import annotations

import inspect

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from hrgcnet.analysis.common import INPUT_SIZES, label, size_text, untrained_message
from hrgcnet.analysis.complexity import GFLOPS_CONVENTION, block_map, breakdown, meta_model
from hrgcnet.layers.gc_block import GlobalContextBlock
from hrgcnet.layers.lightweight import LightweightBottleneck
from hrgcnet.models import list_models
from hrgcnet.models.registry import preset_description

# A first visit at a page URL runs this file in Streamlit's legacy pages/ mode; hand over to streamlit_app.py's
# st.navigation instead (same URLs), so the sidebar is always the app's.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

st.set_page_config(page_title="Architecture · HRGCNet", layout="wide")

KIND_STYLE = {  # (marker symbol, colour without GC, colour with GC)
    "Bottleneck": ("square", "#9ecae1", "#d62728"),
    "LightweightBottleneck": ("diamond", "#fdae6b", "#d62728"),
    "BasicBlock": ("circle", "#9ecae1", "#d62728"),
}


@st.cache_data(show_spinner=False)
def blocks_of(name: str) -> list[dict]:
    return block_map(meta_model(name))


@st.cache_data(show_spinner=False)
def parts_of(name: str, input_hw: tuple[int, int]) -> list[dict]:
    return [p.__dict__ for p in breakdown(meta_model(name), input_hw)]


def block_figure(name: str) -> go.Figure:
    """Every residual block as a marker: x = position in the forward pass, y = branch (resolution)."""
    rows = blocks_of(name)
    offsets, x0 = {}, 0
    for stage in (1, 2, 3, 4):
        offsets[stage] = x0
        n = max((r["module"] * 4 + r["index"] for r in rows if r["stage"] == stage), default=-1) + 1
        x0 += n + 2
    fig = go.Figure()
    for kind, (symbol, plain, gc_colour) in KIND_STYLE.items():
        for with_gc in (False, True):
            sel = [r for r in rows if r["kind"] == kind and (r["gc_ratio"] is not None) == with_gc]
            if not sel:
                continue
            fig.add_trace(go.Scatter(
                x=[offsets[r["stage"]] + r["module"] * 4 + r["index"] for r in sel], y=[r["branch"] for r in sel],
                mode="markers", name=f"{kind}{' + GC' if with_gc else ''}",
                marker=dict(symbol=symbol, size=13, color=gc_colour if with_gc else plain,
                            line=dict(width=1, color="black")),
                text=[f"{r['block']}<br>{kind}, {r['channels']} ch, 1/{r['resolution']} res"
                      + (f"<br>GC r = {r['gc_ratio']:g}" if r["gc_ratio"] else "") for r in sel],
                hovertemplate="%{text}<extra></extra>"))
    for stage, x in offsets.items():
        fig.add_annotation(x=x, y=-0.8, text=f"stage {stage}", showarrow=False, xanchor="left")
    fig.update_layout(height=300, margin=dict(t=30, b=10), title=label(name),
                      xaxis=dict(showticklabels=False, title="forward order (modules of 4 blocks)"),
                      yaxis=dict(tickvals=[0, 1, 2, 3], ticktext=["1/4", "1/8", "1/16", "1/32"],
                                 autorange="reversed", title="branch (resolution)"))
    return fig


st.title("Architecture: HRNet vs HRGCNet")
if msg := untrained_message():
    st.warning(msg + " This page only counts shapes, so the weights do not matter here.")

names = list_models()
c1, c2, c3 = st.columns(3)
a = c1.selectbox("Model A", names, index=names.index("hrnet-w32"), format_func=label)
b = c2.selectbox("Model B", names, index=names.index("hrgcnet-w32"), format_func=label)
hw = c3.selectbox("Input size", INPUT_SIZES[:2], format_func=size_text)

st.subheader("Stages, branches and blocks")
st.markdown("Stem: two stride-2 3×3 convs; **stage 1**: four bottlenecks at 1/4 resolution; **stages 2–4**: 1, 4 "
            "and 3 modules of four BasicBlocks per branch with multi-scale fusion after each module; head: 1×1 conv "
            "to 17 heatmaps. Red markers carry a GC block; diamonds are lightweight (depthwise-separable) "
            "bottlenecks.")
shown = list(dict.fromkeys((a, b)))  # one entry when A and B are the same model
for name in shown:
    st.caption(f"{label(name)}: {preset_description(name)}")
    st.plotly_chart(block_figure(name), width="stretch", key=f"blocks_{name}")

counts = []
for name in shown:
    rows = blocks_of(name)
    counts.append({"model": label(name), "blocks": len(rows),
                   "GC blocks": sum(r["gc_ratio"] is not None for r in rows),
                   "lightweight bottlenecks": sum(r["kind"] == "LightweightBottleneck" for r in rows),
                   "GC blocks per stage": ", ".join(
                       f"s{s}: {sum(r['gc_ratio'] is not None for r in rows if r['stage'] == s)}" for s in (1, 2, 3, 4))})
st.table(pd.DataFrame(counts))

st.subheader(f"Parameters and MACs per stage at {size_text(hw)}")
st.caption(GFLOPS_CONVENTION)
parts = {name: parts_of(name, hw) for name in (a, b)}
by_id = {name: {p["id"]: p for p in parts[name]} for name in (a, b)}
order = [p for p in ("stem", "stage1", "transition1", "stage2", "transition2", "stage3", "transition3", "stage4", "head")
         if p in by_id[a]]
wide = pd.DataFrame({"part": order})
for name in dict.fromkeys((a, b)):
    wide[f"params · {label(name)}"] = [by_id[name][p]["params"] for p in order]
if a != b:
    wide["Δ params (B − A)"] = wide[f"params · {label(b)}"] - wide[f"params · {label(a)}"]
for name in dict.fromkeys((a, b)):
    wide[f"GFLOPs · {label(name)}"] = [by_id[name][p]["macs"] / 2 ** 30 for p in order]
if a != b:
    wide["Δ GFLOPs (B − A)"] = wide[f"GFLOPs · {label(b)}"] - wide[f"GFLOPs · {label(a)}"]
totals = {name: next(p for p in parts[name] if p["id"] == "model") for name in (a, b)}
st.dataframe(wide, hide_index=True, width="stretch",
             column_config={c: st.column_config.NumberColumn(format="localized" if "params" in c else "%+.4f"
                                                              if "Δ" in c else "%.4f")
                            for c in wide.columns if c != "part"})
st.markdown(" · ".join(f"**{label(n)}**: {t['params']:,} params, {t['macs'] / 2 ** 30:.3f} GFLOPs"
                       for n, t in totals.items()))

st.subheader("Where the parameters and MACs go")
c1, c2, c3 = st.columns(3)
which = c1.selectbox("Model", (a, b) if a != b else (a,), index=len({a, b}) - 1, format_func=label)
value = c2.radio("Size by", ["params", "MACs"], horizontal=True)
kind = c3.radio("Chart", ["treemap", "sunburst"], horizontal=True)
nodes = parts_of(which, hw)
values = [p["params"] if value == "params" else p["macs"] for p in nodes]
chart = go.Treemap if kind == "treemap" else go.Sunburst
fig = go.Figure(chart(
    ids=[p["id"] for p in nodes], parents=[p["parent"] for p in nodes], labels=[p["label"] for p in nodes],
    values=values, branchvalues="total", maxdepth=3,
    customdata=[[p["params"], p["macs"] / 2 ** 30] for p in nodes],
    hovertemplate="%{id}<br>params %{customdata[0]:,}<br>GFLOPs %{customdata[1]:.4f}<extra></extra>"))
fig.update_layout(height=620, margin=dict(t=10, l=10, r=10, b=10))
st.plotly_chart(fig, width="stretch", key="breakdown")
gc = [p for p in nodes if p["id"].endswith(".gc")]
total = next(p for p in nodes if p["id"] == "model")
if gc:
    st.markdown(f"{len(gc)} GC blocks hold **{sum(p['params'] for p in gc):,} params** "
                f"({100 * sum(p['params'] for p in gc) / total['params']:.2f}%) and "
                f"**{sum(p['macs'] for p in gc) / 2 ** 30:.4f} GFLOPs** "
                f"({100 * sum(p['macs'] for p in gc) / total['macs']:.2f}%) of {label(which)}.")
else:
    st.markdown(f"{label(which)} has no GC blocks.")
with st.expander("All parts (table)"):
    st.dataframe(pd.DataFrame(nodes).assign(GFLOPs=lambda d: d["macs"] / 2 ** 30), hide_index=True, width="stretch")

st.subheader("The GC block: equation and code path")
left, right = st.columns([2, 3])
with left:
    st.markdown("HRGCNet eq. (2)–(3) (GCNet's context block, channel-add fusion):")
    st.latex(r"z_i = x_i + W_{v2}\,\mathrm{ReLU}\big(\mathrm{LN}(W_{v1} \textstyle\sum_{j=1}^{N_p} \alpha_j x_j)\big)")
    st.latex(r"\alpha_j = \frac{\exp(W_k x_j)}{\sum_{m=1}^{N_p} \exp(W_k x_m)}")
    st.markdown("""
* $W_k$ → `conv_mask` (1×1 conv C→1): one logit per position; softmax over all $N_p = H·W$ positions gives
  the **GC attention map** α (query-independent: one map per image and block — see the GC attention page).
* $\\sum_j \\alpha_j x_j$ → `spatial_pool`: the features (C, H·W) times α (H·W, 1), a `torch.bmm`, or for
  channels_last features `attention_pool` on the (H·W, C) view (same function, no layout copy).
* $W_{v1}$, LN, ReLU, $W_{v2}$ → `transform`, with the parameters of `channel_add_conv` (C→C·r→C) applied as
  matmuls on (B, C); the last layer starts at zero, so a new block is the identity.
* The lightweight bottleneck replaces the bottleneck's 3×3 conv by a depthwise 3×3 + pointwise 1×1 and puts the
  GC block before the residual add.""")
with right:
    st.caption("hrgcnet/layers/gc_block.py")
    methods = [getattr(GlobalContextBlock, m) for m in ("spatial_pool", "transform", "forward")]
    st.code("\n".join(inspect.getsource(m) for m in methods), language="python")
    st.caption("hrgcnet/layers/lightweight.py")
    st.code(inspect.getsource(LightweightBottleneck.spatial_conv), language="python")
