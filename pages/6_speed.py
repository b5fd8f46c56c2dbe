"""Speed: latency of the pose network vs batch size, input size and precision, HRNet vs HRGCNet, on this machine."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st
import torch
from streamlit.runtime.pages_manager import PagesManager

from hrgcnet.analysis.common import INPUT_SIZES, label, size_text, untrained_message
from hrgcnet.analysis.speed import available_precisions, machine_info, time_forward
from hrgcnet.errors import HRGCNetError
from hrgcnet.models import create_model, list_models

# A first visit at a page URL runs this file in Streamlit's legacy pages/ mode; hand over to streamlit_app.py's
# st.navigation instead (same URLs), so the sidebar is always the app's.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

st.set_page_config(page_title="Speed · HRGCNet", layout="wide")


@st.cache_resource(show_spinner=False, max_entries=2)
def get_model(name: str, device: str) -> torch.nn.Module:
    return create_model(name).to(device).eval()  # speed does not depend on the weights


def measure(name: str, batch: int, input_hw: tuple[int, int], precision: str, repeats: int, warmup: int,
            device: str) -> list[float]:
    """Timed afresh on every call: timings are not cached (a cached timing taken under another load, or in another
    session, would sit beside fresh ones in the latency ratios)."""
    return time_forward(get_model(name, device), batch, input_hw, precision, repeats=repeats, warmup=warmup,
                        device=device)


st.title("Speed")
st.caption("Latency of the pose network alone (one forward of a random batch; no detector, no decoding), "
           "measured here with the library's `hrgcnet.analysis.speed.time_forward`. Every press of **Run benchmark** "
           "measures all chosen settings afresh (nothing is cached), so the rows of one table are from one run.")
if msg := untrained_message():
    st.info(msg + " Latency does not depend on the weights.")

RECORDED_DIR = Path(__file__).resolve().parents[1] / "docs" / "inference"


def cpu_text(machine: dict) -> str:
    kind = "AMX" if machine.get("amx_bf16") else "AVX-512 bf16" if machine.get("avx512_bf16") else "no native bf16"
    return f"{machine.get('cpu', '?')} ({kind}, {machine.get('cores', '?')} cores)"


def show_recorded(path: Path) -> None:
    try:
        recorded = json.loads(path.read_text())
        machine = recorded["machine"]
        st.caption(f"`{recorded.get('command', 'hrgcnet bench --infer')}` on {cpu_text(machine)}, "
                   f"{machine['threads']} threads, {recorded.get('date', 'date not recorded')} "
                   f"(`{path.relative_to(RECORDED_DIR.parents[1])}`, docs/inference-speed.md). "
                   "Speed-up: torch fp32 ms / row ms.")
        table = pd.DataFrame(recorded["rows"])
        table["speed-up"] = [recorded["ratios"]["speedup"].get(
            f"{r.model} {r.input_size} {r.config} b{r.batch}") for r in table.itertuples()]
        st.table(table.round(2))
        if recorded.get("frames"):
            st.table(pd.DataFrame(recorded["frames"]).round(1))
    except (ValueError, KeyError, TypeError) as exc:
        st.error(f"{path.name} cannot be read: {exc}")


# one recorded run per kind of CPU: the fast path's gain depends on it (AMX, AVX-512 bf16, AVX2 only)
RECORDED = sorted(RECORDED_DIR.glob("bench_infer*.json"))
if RECORDED:
    with st.expander("Recorded runs of `hrgcnet bench --infer`: torch vs OpenVINO, and a whole frame", expanded=True):
        chosen = st.radio("Recorded on", RECORDED, format_func=lambda p: p.stem.removeprefix("bench_infer-"),
                          horizontal=True) if len(RECORDED) > 1 else RECORDED[0]
        show_recorded(chosen)

devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
names = list_models()
c1, c2, c3 = st.columns(3)
models = c1.multiselect("Models", names, default=["hrnet-w32", "hrgcnet-w32"], format_func=label)
device = c1.selectbox("Device", devices)
batches = c2.multiselect("Batch sizes", [1, 2, 4, 8, 16, 32], default=[1])
sizes = c2.multiselect("Input sizes", list(INPUT_SIZES), default=[INPUT_SIZES[0]], format_func=size_text)
precisions = c3.multiselect("Precisions", available_precisions(device), default=["fp32"],
                            help="bf16/fp16 run under torch.autocast; fp16 only on CUDA.")
repeats = c3.slider("Timed repeats", 1, 20, 3)
warmup = c3.slider("Warm-up forwards", 0, 5, 1)
info = machine_info(device)
st.caption(f"Machine: {info['device']}, torch {info['torch']}, {info['threads']} CPU threads. On a shared machine "
           "timings vary with the load of other processes: compare models measured in the same run.")

jobs = [(m, b, hw, p) for m in models for hw in sizes for p in precisions for b in batches]
if st.button("Run benchmark", type="primary", disabled=not jobs):
    bar = st.progress(0.0, text="Starting…")
    rows = []
    started = time.strftime("%H:%M:%S")
    for i, (m, b, hw, p) in enumerate(jobs):
        bar.progress(i / len(jobs), text=f"{label(m)} · batch {b} · {size_text(hw)} · {p} ({i + 1}/{len(jobs)})")
        try:
            times = measure(m, b, hw, p, repeats, warmup, device)
        except HRGCNetError as exc:
            st.error(str(exc))
            st.stop()
        median = float(pd.Series(times).median())
        rows.append({"model": m, "batch": b, "input size": size_text(hw), "precision": p, "device": device,
                     "median ms": median, "mean ms": float(pd.Series(times).mean()), "min ms": min(times),
                     "ms per image": median / b, "images/s": 1000 * b / median, "repeats": repeats,
                     "measured at": time.strftime("%H:%M:%S")})
    bar.progress(1.0, text=f"Done: {len(jobs)} settings.")
    st.session_state["speed_rows"] = rows
    st.session_state["speed_started"] = started

rows = st.session_state.get("speed_rows")
if not rows:
    st.info("Choose the settings and press **Run benchmark**.")
    st.stop()

df = pd.DataFrame(rows)
df["label"] = df["model"].map(label)
st.subheader("Results")
st.caption(f"Measured in one run started at {st.session_state.get('speed_started', '?')} (column *measured at*); "
           "press **Run benchmark** again to re-measure.")
st.dataframe(df.drop(columns=["label"]), hide_index=True, width="stretch",
             column_config={c: st.column_config.NumberColumn(format="%.1f")
                            for c in ("median ms", "mean ms", "min ms", "ms per image", "images/s")})
st.download_button("Download (CSV)", df.to_csv(index=False), "speed.csv", "text/csv")

if df["batch"].nunique() > 1:
    fig = px.line(df, x="batch", y="ms per image", color="label", line_dash="precision", facet_col="input size",
                  markers=True, log_x=True, title="Latency per image vs batch size")
    st.plotly_chart(fig, width="stretch", key="vs_batch")
if df["input size"].nunique() > 1:
    d = df.assign(pixels=df["input size"].map(lambda s: int(s.split("x")[0]) * int(s.split("x")[1])))
    fig = px.line(d.sort_values("pixels"), x="pixels", y="median ms", color="label", line_dash="precision",
                  facet_col="batch", markers=True, hover_data=["input size"],
                  title="Latency vs input size (pixels per image)")
    st.plotly_chart(fig, width="stretch", key="vs_size")
fig = px.bar(df, x="label", y="median ms", color="precision", barmode="group",
             facet_col="input size", facet_row="batch" if df["batch"].nunique() > 1 else None,
             title="Median latency per forward")
st.plotly_chart(fig, width="stretch", key="bars")

pairs = [("hrnet-w32", "hrgcnet-w32"), ("hrnet-w32", "hrgcnet-w32-table1"), ("hrnet-w48", "hrgcnet-w48"),
         ("hrnet-w48", "hrgcnet-w48-table1")]
ratios = []
key = ["batch", "input size", "precision"]
for base, other in pairs:
    if {base, other} <= set(df["model"]):
        m = df[df["model"] == base].merge(df[df["model"] == other], on=key, suffixes=(" base", " other"))
        for _, r in m.iterrows():
            ratios.append({"pair": f"{label(other)} / {label(base)}", **{k: r[k] for k in key},
                           "latency ratio": r["median ms other"] / r["median ms base"]})
if ratios:
    st.subheader("HRGCNet vs HRNet")
    st.dataframe(pd.DataFrame(ratios), hide_index=True, width="stretch",
                 column_config={"latency ratio": st.column_config.NumberColumn(format="%.3f")})
    st.caption("Ratio of median latencies (1.0 = same speed). GC blocks add little MACs but a softmax and a "
               "reduction per block, which CPUs run less efficiently than convolutions.")
