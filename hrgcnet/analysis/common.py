"""Small shared pieces of the analysis app: model labels, weight status, example images, keypoint traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..models.registry import get_spec, list_models
from ..models.weights import default_weights_path

#: Example images of the repository (``assets/``), when the package runs from a checkout.
ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
#: Input sizes the app offers (H, W, multiples of 32), the paper's two first.
INPUT_SIZES: tuple[tuple[int, int], ...] = ((256, 192), (384, 288), (128, 96), (512, 384))


def size_text(hw: tuple[int, int]) -> str:
    """``(256, 192)`` -> ``"256x192"``."""
    return f"{hw[0]}x{hw[1]}"


def label(name: str) -> str:
    """UI label of a model name (``hrgcnet-w32`` -> ``HRGCNet-W32``)."""
    return get_spec(name).label


def has_trained_weights(name: str) -> bool:
    """Whether committed (trained) default weights exist for ``name``."""
    return default_weights_path(name) is not None


def untrained_message(names: list[str] | None = None) -> str | None:
    """A warning to show when any of ``names`` (default: all models) has no trained weights, else None."""
    names = names if names is not None else list_models()
    missing = [n for n in names if not has_trained_weights(n)]
    if not missing:
        return None
    if missing == list_models():
        who = "no model has trained weights yet"
    else:
        who = ", ".join(missing) + (" has" if len(missing) == 1 else " have") + " no trained weights yet"
    return (f"Untrained weights: {who}, so they run with a random initialisation. "
            "Shapes, costs and timings are real; heatmaps, attention maps and scores are not those of a trained network.")


def analysis_estimator(model: str, input_hw: tuple[int, int], flip_test: bool = False, every_box: bool = False):
    """The estimator the analysis pages share: fp32 on the CPU (reproducible maps), whole image as the person
    unless boxes are given, and a fixed seed so an untrained model is the same random init on every run.

    ``every_box``: one result per given box, in the given order (no OKS-NMS, no person limit), so that the
    results of several models fed the same boxes line up person by person."""
    import torch

    from ..pipeline import PoseEstimator

    torch.manual_seed(0)
    extra = {"oks_nms": False, "max_persons": None} if every_box else {}
    return PoseEstimator(model, weights="default", device="cpu", detector="full", flip_test=flip_test,
                         input_hw=input_hw, precision="fp32", channels_last=False, **extra)


def default_input_index(name: str) -> int:
    """Index in :data:`INPUT_SIZES` of the size a page starts with for ``name``: the size its committed weights
    were trained at when offered (weights run at another size score far lower), else the paper's 256x192."""
    from ..pipeline import trained_input_hw

    hw = trained_input_hw(name)
    return INPUT_SIZES.index(hw) if hw in INPUT_SIZES else 0


def input_size_help(name: str) -> str:
    """The help text of an input-size choice: the size the committed weights of ``name`` were trained at."""
    from ..pipeline import trained_input_hw

    hw = trained_input_hw(name)
    if hw is None:
        return "The paper's sizes are 256x192 and 384x288."
    return f"{label(name)}'s committed weights were trained at {size_text(hw)}; at other sizes they score lower."


def example_images() -> list[Path]:
    """Example images in ``assets/`` (sorted by name); empty when there is no such folder."""
    from ..io import list_images

    return list_images(ASSETS_DIR) if ASSETS_DIR.is_dir() else []


def image_with_keypoints_traces(keypoints: np.ndarray, name: str, color: str, min_score: float = 0.0) -> list:
    """Plotly traces (skeleton lines + keypoint markers) of one person's keypoints ``(K, 3)`` in image pixels;
    keypoints with a score below ``min_score`` are left out."""
    import plotly.graph_objects as go

    from ..structures import KEYPOINT_NAMES, SKELETON

    kp = np.asarray(keypoints, dtype=np.float64)
    ok = kp[:, 2] >= min_score
    xs, ys = [], []
    for a, b in SKELETON:
        if ok[a] and ok[b]:
            xs += [kp[a, 0], kp[b, 0], None]
            ys += [kp[a, 1], kp[b, 1], None]
    return [
        go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=color, width=2), name=name, legendgroup=name,
                   hoverinfo="skip", showlegend=False),
        go.Scatter(x=kp[ok, 0], y=kp[ok, 1], mode="markers", marker=dict(color=color, size=7,
                   line=dict(color="white", width=1)), name=name, legendgroup=name,
                   text=[f"{KEYPOINT_NAMES[k]} score {kp[k, 2]:.3f}" for k in np.flatnonzero(ok)],
                   hovertemplate="%{text}<extra>" + name + "</extra>"),
    ]
