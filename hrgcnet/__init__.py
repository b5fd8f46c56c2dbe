"""HRGCNet: HRNet with global-context blocks for top-down human pose estimation.

Top-level names are imported lazily, so ``import hrgcnet`` (and the ``hrgcnet`` CLI) stay light::

    from hrgcnet import PoseEstimator, create_model, list_models
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "PoseEstimator": "hrgcnet.pipeline",
    "PoseResult": "hrgcnet.pipeline",
    "create_model": "hrgcnet.models",
    "list_models": "hrgcnet.models",
    "load_image": "hrgcnet.io",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hrgcnet' has no attribute {name!r}")
