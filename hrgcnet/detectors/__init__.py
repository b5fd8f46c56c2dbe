"""Person detectors for the top-down pipeline.

A detector is a callable ``detector(image, *, image_id=None, file_name=None) -> Detections`` on an
``(H, W, 3)`` uint8 RGB image, with a ``name`` and a list of ``notes`` for the user. Five exist, and a
choice between two of them:

* ``auto`` (the default): ``yolo`` when its weights are on this machine or can be downloaded (online), else
  ``nanodet``, with no note: offline, NanoDet-g is the normal detector, not a fallback.
* ``yolo``: Ultralytics YOLO, person class (:class:`YoloDetector`); needs its weights (downloaded
  when online). Chosen explicitly and unavailable, it falls back to ``nanodet`` with a note.
* ``nanodet``: NanoDet-g in PyTorch with committed weights, offline (``hrgcnet.detectors.nanodet``); person-box
  AP 0.41 on ``coco/val.json`` (``hrgcnet eval-boxes``).
* ``ssd``: SSDLite-MobileNetV2 via OpenVINO on CPU, offline and weak (``hrgcnet.detectors.ssd``; AP 0.18).
* ``full``: the whole image is one person (:class:`FullImageDetector`).
* ``boxes``: user boxes or a COCO JSON file (:class:`BoxesDetector`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..errors import HRGCNetError, UsageError
from .base import Detections, valid_boxes
from .boxes import BoxesDetector, boxes_xywh_to_xyxy, image_id_from_file_name
from .full import FullImageDetector

DETECTOR_NAMES: tuple[str, ...] = ("auto", "yolo", "nanodet", "ssd", "full", "boxes")
#: The detector of ``PoseEstimator``, ``hrgcnet predict`` and the app unless one is chosen.
DEFAULT_DETECTOR = "auto"
#: Detectors tried, in order, when the chosen one cannot be loaded (each with a note saying why).
DEFAULT_FALLBACK: tuple[str, ...] = ("nanodet", "ssd", "full")


class Detector(Protocol):
    name: str
    notes: list[str]

    def __call__(self, image: np.ndarray, *, image_id: int | None = None,
                 file_name: str | None = None) -> Detections: ...


def create_detector(name: str, *, fallback: Sequence[str] | None = DEFAULT_FALLBACK, **kwargs) -> Detector:
    """Build detector ``name`` (``auto``, ``yolo``, ``nanodet``, ``ssd``, ``full``, ``boxes``, or a path to a COCO
    JSON file).

    Offline, nothing here waits on the network for long: ``yolo`` stops at once when an offline variable is set
    (``YOLO_OFFLINE``, ``HF_HUB_OFFLINE``, ``HRGCNET_OFFLINE``) and otherwise after a DNS probe of at most
    :data:`hrgcnet.detectors.yolo.ONLINE_PROBE_TIMEOUT_S` seconds.

    Args:
        name: detector name; a path ending in ``.json`` means ``boxes`` with that file. ``auto``: ``yolo`` when
            it can be loaded, else ``nanodet`` (no note); only when both fail does it fall back, with a note.
        fallback: detectors tried in order when ``name`` cannot be built (missing weights offline,
            missing package); the returned detector's ``notes`` say why, and a warning is issued.
            None raises instead.
        **kwargs: passed to the detector (``weights``, ``min_score``, ``device`` for ``yolo``;
            ``min_score``, ``device``, ``backend`` for ``nanodet``; ``min_score`` for ``ssd``;
            ``boxes``/``box_scores``/``path`` for ``boxes``). Arguments a detector does not take are dropped
            for it; ``weights`` goes to ``yolo`` only (``nanodet_weights`` to ``nanodet``).

    Raises:
        UsageError: unknown name or bad arguments; the error of ``name`` when every fallback fails too.
    """
    if name.lower().endswith(".json"):
        return BoxesDetector(path=name, **_only(kwargs, ("min_score",)))
    if name not in DETECTOR_NAMES:
        raise UsageError(f"unknown detector {name!r}; choose from {', '.join(DETECTOR_NAMES)} or a COCO JSON path")
    if name == "auto":
        try:
            return _build("yolo", kwargs)
        except HRGCNetError:
            name = "nanodet"  # no YOLO weights here (offline): NanoDet is the normal choice, not a fallback
    try:
        return _build(name, kwargs)
    except HRGCNetError as exc:
        if not fallback:
            raise
        first_error = exc
    for other in fallback:
        if other == name:
            continue
        try:
            det = _build(other, kwargs)
        except HRGCNetError:
            continue
        note = f"detector '{name}' unavailable ({first_error}); using '{other}' instead"
        warnings.warn(note, stacklevel=2)
        det.notes.append(note)
        return det
    raise first_error


def _only(kwargs: dict, keys: Sequence[str]) -> dict:
    return {k: v for k, v in kwargs.items() if k in keys}


def _build(name: str, kwargs: dict) -> Detector:
    if name == "full":
        return FullImageDetector()
    if name == "boxes":
        return BoxesDetector(**_only(kwargs, ("boxes", "box_scores", "path", "min_score")))
    if name == "ssd":
        from .ssd import SSDLiteDetector

        return SSDLiteDetector(**_only(kwargs, ("min_score", "graph_path")))
    if name == "nanodet":
        from .nanodet import NanoDetDetector

        options = _only(kwargs, ("min_score", "device", "nms_iou", "max_det", "input_side", "backend"))
        if "nanodet_weights" in kwargs:
            options["weights"] = kwargs["nanodet_weights"]
        return NanoDetDetector(**options)
    from .yolo import YoloDetector

    return YoloDetector(**_only(kwargs, ("weights", "min_score", "iou", "imgsz", "device", "max_det")))


def detector_label(detector: Detector) -> str:
    """Short text for UIs and logs, e.g. ``"yolo (yolo11n.pt)"``."""
    weights = getattr(detector, "weights", None)
    return f"{detector.name} ({os.path.basename(str(weights))})" if weights else detector.name


__all__ = [
    "DETECTOR_NAMES", "DEFAULT_DETECTOR", "DEFAULT_FALLBACK", "BoxesDetector", "Detections", "Detector",
    "FullImageDetector",
    "boxes_xywh_to_xyxy", "create_detector", "detector_label", "image_id_from_file_name", "valid_boxes",
]
