"""HRGCNet analysis app: `make analysis` (or `streamlit run streamlit_app.py`).

Navigation over the pages in ``pages/``; each page file also runs on its own (``streamlit run pages/1_model_zoo.py``).
Complexity, heatmaps, attention maps, evaluations and timings are computed live from the library; the learning curves
are read from the committed ``hrgcnet/weights/learning_curves.csv``; values copied from the paper are labelled "paper".
"""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="HRGCNet analysis", layout="wide")
navigation = st.navigation([
    st.Page(PAGES / "1_model_zoo.py", title="Model zoo & complexity", icon=":material/table_chart:", default=True),
    st.Page(PAGES / "2_architecture.py", title="Architecture", icon=":material/account_tree:"),
    st.Page(PAGES / "3_heatmaps.py", title="Heatmaps", icon=":material/blur_on:"),
    st.Page(PAGES / "4_gc_attention.py", title="GC attention", icon=":material/center_focus_strong:"),
    st.Page(PAGES / "5_evaluation.py", title="Evaluation", icon=":material/fact_check:"),
    st.Page(PAGES / "6_speed.py", title="Speed", icon=":material/speed:"),
])
st.sidebar.caption("HRGCNet analysis · numbers measured live, except the learning curves (committed CSV of the "
                   "training runs); paper values labelled *paper*.")
navigation.run()
