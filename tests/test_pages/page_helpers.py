"""Helpers shared by the page tests."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Generous: the machine may have two busy cores.
TIMEOUT = 180


def no_exception(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def by_label(elements, label: str):
    """The widget with ``label`` among ``elements`` (e.g. ``at.selectbox``)."""
    found = [e for e in elements if e.label == label]
    assert found, f"no widget labelled {label!r} in {[e.label for e in elements]}"
    return found[0]


def chart_traces(at) -> list[list[dict]]:
    """The traces of every plotly chart on the page, in order."""
    return [json.loads(c.proto.spec)["data"] for c in at.get("plotly_chart")]


def chart_titles(at) -> list[str]:
    """The title of every plotly chart on the page, in order ('' for none)."""
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def trace_array(trace: dict, key: str):
    """``trace[key]`` as a NumPy array, also when plotly sent it base64-packed (``{"dtype", "bdata", "shape"}``)."""
    import base64

    import numpy as np

    value = trace[key]
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    return np.asarray(value)
