"""Evaluation: COCO keypoint AP per model from `hrgcnet eval` result files or a run on the val split, with
per-keypoint accuracy, the OKS histogram and the worst examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from hrgcnet.analysis.common import (INPUT_SIZES, analysis_estimator, default_input_index, has_trained_weights,
                                     image_with_keypoints_traces, input_size_help, label, size_text,
                                     untrained_message)
from hrgcnet.analysis.curves import COMMITTED_CURVES, read_curves_csv
from hrgcnet.analysis.evaluation import (SUMMARY_KEYS, EvalRecord, default_val_split, load_annotations, match_instances,
                                         parse_eval_json, restrict_to_results, subset_with_persons)
from hrgcnet.errors import DatasetError, HRGCNetError
from hrgcnet.evaluation.coco import coco_from_dict, evaluate_coco, gt_boxes_by_image, paired_bootstrap, per_keypoint_oks
from hrgcnet.io import load_image
from hrgcnet.models import list_models
from hrgcnet.pipeline import PoseEstimator
from hrgcnet.structures import KEYPOINT_NAMES

# A first visit at a page URL runs this file in Streamlit's legacy pages/ mode; hand over to streamlit_app.py's
# st.navigation instead (same URLs), so the sidebar is always the app's.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

st.set_page_config(page_title="Evaluation · HRGCNet", layout="wide")


@st.cache_resource(show_spinner="Building the model…", max_entries=2)
def get_estimator(model: str, input_hw: tuple[int, int], flip_test: bool) -> PoseEstimator:
    return analysis_estimator(model, input_hw, flip_test)


@st.cache_data(show_spinner=False, max_entries=2000)
def predict_image(model: str, input_hw: tuple[int, int], flip_test: bool, path: str, image_id: int,
                  boxes: np.ndarray) -> list[dict]:
    est = get_estimator(model, input_hw, flip_test)
    return est(load_image(path), boxes=boxes, box_scores=np.ones(len(boxes))).to_coco_json(image_id)


@st.cache_data(show_spinner=False)
def annotations(path: str) -> dict:
    return load_annotations(path)


@st.cache_data(show_spinner=False, max_entries=50)
def bootstrap_pair(a: str, b: str) -> dict:
    """:func:`hrgcnet.evaluation.coco.paired_bootstrap` of two evaluations' results on the images they cover."""
    rec_a, rec_b = records()[a], records()[b]
    coco = coco_from_dict(restrict_to_results(gt, rec_a.results))
    return paired_bootstrap(rec_a.results, rec_b.results, coco, num_samples=500)


def matched(results: list[dict], gt: dict) -> list[dict]:
    return match_instances(results, gt)


@st.cache_data(show_spinner="Reading the evaluation file…", max_entries=100)
def load_upload(data: bytes, name: str, ann_path: str | None) -> EvalRecord:
    """An uploaded evaluation file as a record. A bare result list is scored here against the annotations of the
    images it has results for (``meta["images"]``): a file of ``hrgcnet eval --max-images N`` covers N images."""
    rec = parse_eval_json(data, name)
    if rec.results is None or not ann_path:
        return rec
    try:
        sub = restrict_to_results(annotations(ann_path), rec.results)
        coco = coco_from_dict(sub)
        if rec.summary is None:
            rec.summary = evaluate_coco(rec.results, coco)
            rec.meta["images"] = len(sub["images"])
    except HRGCNetError as exc:
        raise DatasetError(f"{name}: {exc}") from exc
    if rec.per_keypoint is None:
        try:
            rec.per_keypoint = per_keypoint_oks(rec.results, coco)
        except HRGCNetError:
            pass
    return rec


def records() -> dict[str, EvalRecord]:
    return st.session_state.setdefault("eval_records", {})


def is_untrained(rec: EvalRecord) -> bool:
    """A run says whether its model was untrained; a file (``hrgcnet eval --json`` does not say) is taken to be of
    the committed weights when its model has some, else of an untrained model."""
    if "untrained" in rec.meta:
        return bool(rec.meta["untrained"])
    return not has_trained_weights(rec.meta["model"])


def publish_measured_ap() -> None:
    """Measured APs of our trained models for Fig. 3 on the Model zoo page: ``{input size: {model: {"ap" (%),
    "source"}}}``. Runs with untrained weights (and files of models without committed weights) are left out: their
    AP says nothing about the architecture."""
    out: dict[str, dict[str, dict]] = {}
    for key, rec in records().items():
        model, size = rec.meta.get("model"), rec.meta.get("input_size")
        if model not in list_models() or not size or is_untrained(rec):
            continue
        if rec.summary and rec.summary.get("AP") is not None:
            source = f"{rec.meta.get('split', key)}" + (f", {rec.meta['images']} images" if "images" in rec.meta else "")
            out.setdefault(str(size), {})[model] = {"ap": 100 * rec.summary["AP"], "source": source}
    st.session_state["measured_ap"] = out


st.title("Evaluation")
st.caption("COCO keypoint AP (pycocotools, OKS with the standard sigmas) via `hrgcnet.evaluation.coco`; values in percent.")
if msg := untrained_message():
    st.warning(msg + " Their AP is close to 0 and says nothing about the architectures.")

with st.expander("Learning curves of the default weights (validation AP vs samples seen)", expanded=True):
    try:
        curves = pd.DataFrame(read_curves_csv())
    except HRGCNetError as exc:
        st.error(str(exc))
        curves = pd.DataFrame()
    if curves.empty:
        st.info(f"No learning curves committed yet ({COMMITTED_CURVES.name}).")
    else:
        for k in ("AP", "AP50", "AR"):
            curves[f"{k} (%)"] = 100 * curves[k]
        curves["run"] = curves["model"] + " " + curves["input_size"]
        # each training cycle restarts its step count: number the cycles, so a step is read within its cycle
        curves["cycle"] = curves.groupby(["run", "split"])["step"].transform(lambda s: (s.diff() <= 0).cumsum() + 1)
        fig = px.line(curves, x="samples_seen", y="AP (%)", color="run", line_dash="split", markers=True,
                      hover_data=["cycle", "step", "AP50 (%)", "AR (%)"],
                      labels={"samples_seen": "training samples seen", "step": "step (within its cycle)"})
        fig.update_layout(height=320, legend=dict(orientation="h", y=-0.3))
        st.plotly_chart(fig, width="stretch", key="learning_curves")
        st.caption("Periodic validation of the training runs of the default weights (ground-truth boxes, flip "
                   "test) on coco/val.json (68 persons, `val`) and, from the training campaign on, coco/dev.json "
                   "(204 persons, `dev`: val.json plus 45 images), identical recipe for both models; written by "
                   "`hrgcnet curves RUN_DIR... --out hrgcnet/weights/learning_curves.csv`. Each training cycle "
                   "restarts its step count (hover: cycle, step within it). The campaign's stretches and the runs "
                   "that were not committed are in docs/training/campaign.md and hrgcnet/weights/README.md.")

split = default_val_split()
c1, c2 = st.columns(2)
ann_path = c1.text_input("Annotation file", str(split[0]) if split else "",
                         help="COCO keypoint json; default: ../shared/data/coco/val.json (COCO-MINI val2017)")
img_dir = c2.text_input("Image folder", str(split[1]) if split else "")
gt = None
if ann_path:
    try:
        gt = annotations(ann_path)
    except HRGCNetError as exc:
        st.error(str(exc))

tab_load, tab_run = st.tabs(["Load result files", "Run on the val split"])
with tab_load:
    # "Clear results" empties the uploader too: a new key gives a new, empty widget
    files = st.file_uploader("Evaluation files (`hrgcnet eval --json` output, or a COCO keypoint result list)",
                             type=["json"], accept_multiple_files=True,
                             key=f"eval_files_{st.session_state.get('eval_files_generation', 0)}")
    st.caption("`hrgcnet eval --json` prints only the AP keys: name the file after the model and input size "
               "(e.g. `hrgcnet-w32_256x192.json`) to have it placed in Fig. 3 (only models with committed trained "
               "weights are). A result list (`hrgcnet eval --out`) is scored here against the annotation file, on the "
               "images it has results for (column *images*): a file of `hrgcnet eval --max-images N` covers N images.")
    # the file records mirror the uploader on every run: a file removed from it leaves the table and Fig. 3
    from_files: dict[str, EvalRecord] = {}
    for f in files or []:
        try:
            from_files[f"file: {f.name}"] = load_upload(f.getvalue(), f.name, ann_path if gt is not None else None)
        except HRGCNetError as exc:
            st.error(str(exc))
        except Exception as exc:  # noqa: BLE001 - one malformed upload must not take the page down
            st.error(f"{f.name}: could not be read ({type(exc).__name__}: {exc})")
    st.session_state["eval_records"] = {**from_files, **{k: r for k, r in records().items()
                                                         if not k.startswith("file: ")}}
with tab_run:
    if gt is None or not Path(img_dir).is_dir():
        st.info("Needs the annotation file and image folder above.")
    else:
        n_persons = len(subset_with_persons(gt, None)["images"])
        c1, c2, c3 = st.columns(3)
        models = c1.multiselect("Models", list_models(), default=["hrnet-w32", "hrgcnet-w32"], format_func=label)
        first = models[0] if models else "hrgcnet-w32"
        input_hw = c2.selectbox("Input size", INPUT_SIZES, format_func=size_text, index=default_input_index(first),
                                help=input_size_help(first))
        if n_persons > 1:
            max_images = c3.slider("Images (with persons, file order)", 1, n_persons, min(5, n_persons))
        else:  # a slider needs two values to choose from
            max_images = n_persons
            c3.caption(f"Images with persons: {n_persons}")
        flip = c3.checkbox("Flip test", value=True)
        st.caption("Ground-truth person boxes (the standard 'use GT bbox' protocol). The bundled val split is COCO-MINI "
                   "(a 79-image subset of COCO val2017): its AP is not comparable with the paper's full COCO val.")
        if n_persons == 0:
            st.warning(f"{Path(ann_path).name} has no image with a (non-crowd) person box: nothing to evaluate.")
        if st.button("Run evaluation", type="primary", disabled=not models or n_persons == 0):
            sub = subset_with_persons(gt, max_images)
            boxes = gt_boxes_by_image(coco_from_dict(sub))
            bar = st.progress(0.0)
            total = len(models) * len(sub["images"])
            try:
                for mi, m in enumerate(models):
                    results: list[dict] = []
                    for ii, img in enumerate(sub["images"]):
                        bar.progress((mi * len(sub["images"]) + ii) / total,
                                     text=f"{label(m)}: image {ii + 1}/{len(sub['images'])}")
                        results += predict_image(m, input_hw, flip, str(Path(img_dir) / img["file_name"]), img["id"],
                                                 boxes[img["id"]])
                    coco = coco_from_dict(sub)
                    rec = EvalRecord(name=f"{m} {size_text(input_hw)}", summary=evaluate_coco(results, coco),
                                     per_keypoint=per_keypoint_oks(results, coco), results=results,
                                     meta={"model": m, "input_size": size_text(input_hw), "images": len(sub["images"]),
                                           "flip_test": flip, "split": Path(ann_path).name,
                                           "untrained": get_estimator(m, input_hw, flip).untrained})
                    records()[f"run: {rec.name} · {len(sub['images'])} images · {'flip' if flip else 'no flip'}"] = rec
                bar.progress(1.0, text="Done")
            except HRGCNetError as exc:
                st.error(str(exc))

recs = records()
publish_measured_ap()
if not recs:
    st.info("Load result files or run an evaluation to see results.")
    st.stop()

st.subheader("AP per model")
table = pd.DataFrame([{"evaluation": key, **{k: None if (rec.summary or {}).get(k) is None else
                                             100 * rec.summary[k] for k in SUMMARY_KEYS},
                       **{k: v for k, v in rec.meta.items()
                          if k in ("model", "input_size", "images", "flip_test", "untrained")}}
                      for key, rec in recs.items()])
st.dataframe(table, hide_index=True, width="stretch",
             column_config={k: st.column_config.NumberColumn(format="%.1f") for k in SUMMARY_KEYS})
st.caption("Evaluations of trained models (not flagged untrained; a file only when its model has committed trained "
           "weights) also appear as measured points in Fig. 3 on the Model zoo page. *images*: the images scored.")
pairs = [(a, b) for i, a in enumerate(recs) for b in list(recs)[i + 1:]
         if recs[a].results and recs[b].results and gt is not None
         and {r["image_id"] for r in recs[a].results} == {r["image_id"] for r in recs[b].results}]
if pairs:
    st.markdown("**Can these images rank them?** A paired bootstrap over the images (500 draws; "
                "`hrgcnet eval --compare` does the same with 1,000): when the 95% interval of the AP difference "
                "holds 0, these images cannot tell which evaluation is better.")
    rows = []
    for a, b in pairs:
        try:
            cmp = bootstrap_pair(a, b)
        except HRGCNetError as exc:
            st.error(f"{a} vs {b}: {exc}")
            continue
        low, high = cmp["ci95"]
        rows.append({"A": a, "B": b, "images": cmp["num_images"], "AP A − B": 100 * cmp["delta"],
                     "95% interval": f"[{100 * low:+.1f}, {100 * high:+.1f}]",
                     "ranked?": "A better" if low > 0 else ("B better" if high < 0 else "no: the interval holds 0")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"AP A − B": st.column_config.NumberColumn(format="%+.1f")})
if st.button("Clear results"):
    st.session_state["eval_records"] = {}
    st.session_state["measured_ap"] = {}
    st.session_state["eval_files_generation"] = st.session_state.get("eval_files_generation", 0) + 1
    st.rerun()

st.subheader("Per-keypoint accuracy")
metric = st.radio("Measure", ["acc50", "acc75", "oks"], horizontal=True,
                  format_func={"acc50": "share with OKS_k ≥ 0.5", "acc75": "share with OKS_k ≥ 0.75",
                               "oks": "mean OKS_k"}.get)
kp_rows = []
for key, rec in recs.items():
    per = rec.per_keypoint
    if per is None and rec.results is not None and gt is not None:
        try:
            per = per_keypoint_oks(rec.results, coco_from_dict(restrict_to_results(gt, rec.results)))
        except HRGCNetError:
            per = None
    for name in KEYPOINT_NAMES:
        if per and name in per:
            kp_rows.append({"evaluation": key, "keypoint": name, "value": 100 * per[name][metric], "n": per[name]["n"]})
if kp_rows:
    fig = px.bar(pd.DataFrame(kp_rows), x="keypoint", y="value", color="evaluation", barmode="group",
                 hover_data=["n"], labels={"value": f"{metric} (%)"})
    fig.update_layout(height=380, legend=dict(orientation="h", y=-0.35))
    st.plotly_chart(fig, width="stretch", key="per_keypoint")
    st.caption("Per keypoint, on the persons that COCO's matching found at OKS 0.5 (`hrgcnet.evaluation.coco.per_keypoint_oks`).")
else:
    st.info("No per-keypoint numbers: the loaded files have no `per_keypoint` and no results to compute them from.")

with_results = {k: r for k, r in recs.items() if r.results is not None}
if gt is None or not with_results:
    st.info("OKS histogram and error examples need result lists and the annotation file.")
    st.stop()

st.subheader("OKS per ground-truth person")
hist_rows = [{"evaluation": key, "OKS": r["oks"], "matched": r["matched"]}
             for key, rec in with_results.items() for r in matched(rec.results, gt)
             if r["image_id"] in {res["image_id"] for res in rec.results}]
fig = px.histogram(pd.DataFrame(hist_rows), x="OKS", color="evaluation", barmode="overlay", nbins=20,
                   range_x=[0, 1], opacity=0.6)
fig.update_layout(height=340)
st.plotly_chart(fig, width="stretch", key="oks_hist")
st.caption("Greedy COCO-style matching per image (highest score first); an unmatched person counts as OKS 0. "
           "Only images that the evaluation covered are counted.")

st.subheader("Error examples (lowest OKS)")
which = st.selectbox("Evaluation", list(with_results))
rows = [r for r in matched(with_results[which].results, gt)
        if r["matched"] and r["image_id"] in {res["image_id"] for res in with_results[which].results}]
rows.sort(key=lambda r: r["oks"])
count = st.slider("Examples", 1, 12, 4) if len(rows) > 1 else 1
images_by_id = {img["id"]: img for img in gt["images"]}
cols = st.columns(4)
for i, r in enumerate(rows[:count]):
    path = Path(img_dir) / images_by_id[r["image_id"]]["file_name"]
    if not path.is_file():
        cols[i % 4].warning(f"image {path.name} not found")
        continue
    gt_kp = np.asarray(r["gt_keypoints"])
    pred = np.asarray(r["pred_keypoints"])
    labelled = gt_kp[:, 2] > 0
    fig = go.Figure(go.Image(z=load_image(path)))
    for t in image_with_keypoints_traces(np.c_[gt_kp[:, :2], labelled.astype(float)], "ground truth", "#2ca02c",
                                         min_score=0.5):
        fig.add_trace(t)
    for t in image_with_keypoints_traces(pred, "prediction", "#d62728"):
        fig.add_trace(t)
    xs, ys = gt_kp[labelled, 0], gt_kp[labelled, 1]
    if len(xs):
        pad = 0.3 * max(xs.max() - xs.min(), ys.max() - ys.min(), 40)
        fig.update_xaxes(range=[xs.min() - pad, xs.max() + pad])
        fig.update_yaxes(range=[ys.max() + pad, ys.min() - pad])
    fig.update_layout(height=320, margin=dict(l=0, r=0, t=30, b=0), showlegend=False,
                      title=f"OKS {r['oks']:.3f} · image {r['image_id']}")
    cols[i % 4].plotly_chart(fig, width="stretch", key=f"err_{i}")
if not rows:
    st.info("No matched person in this evaluation.")
else:
    st.caption("Green: ground truth (labelled keypoints); red: prediction.")
