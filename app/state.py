"""What the app keeps between calls: limits, the model choices and their cards, the shared model and
detector cache (one per process, loaded once), and each user's cached results (kept in ``gr.State``).

Models are shared by all users: loading one takes about a second and its weights hundreds of MB.
Results belong to one user and hold everything a redraw needs (the image at display size, the
:class:`~hrgcnet.pipeline.PoseResult` with heatmaps, crops and GC attention maps), so that changing a
threshold or a display option redraws without running the network again.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from hrgcnet.detectors import Detector, create_detector, detector_label
from hrgcnet.errors import UsageError
from hrgcnet.io import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from hrgcnet.models import get_spec, list_models
from hrgcnet.models.weights import default_weights_path, read_metadata
from hrgcnet.pipeline import PoseEstimator, PoseResult, parse_input_hw, trained_input_hw


log = logging.getLogger("hrgcnet.app")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    """The integer environment variable ``name`` (``default`` when unset); a value that is not a whole number
    gives ``default`` and one below ``minimum`` gives ``minimum``, each with a logged warning."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        log.warning("%s=%r is not a whole number: using %s", name, value, default)
        return default
    if minimum is not None and number < minimum:
        log.warning("%s=%s is below its minimum of %s: using %s", name, number, minimum, minimum)
        return minimum
    return number


def env_float(name: str, default: float, positive: bool = False) -> float:
    """The number environment variable ``name`` (``default`` when unset); a value that is not a number (or NaN),
    or with ``positive`` one that is not above 0, gives ``default`` with a logged warning."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isnan(number) or (positive and number <= 0):
        log.warning("%s=%r is not a%s number: using %s", name, value, " positive" if positive else "", default)
        return default
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """The environment variable ``name`` when it is one of ``choices`` (``default`` when unset); another value
    gives ``default`` with a logged warning."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in choices:
        log.warning("%s=%r is not one of %s: using %s", name, value, ", ".join(choices), default)
        return default
    return value


# ------------------------------------------------------------------------------------------- limits

#: Largest upload (bytes) and image (pixels) the app accepts: the library's limits (``hrgcnet.io``).
MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES
MAX_PIXELS = MAX_IMAGE_PIXELS
#: Persons per image the app runs the network on (highest box scores first).
MAX_PERSONS = env_int("HRGCNET_APP_MAX_PERSONS", 10, minimum=1)
#: Inference events that may run at once (one shared queue for every handler that runs a network).
INFERENCE_CONCURRENCY = env_int("HRGCNET_APP_CONCURRENCY", 1, minimum=1)
#: Live webcam streams served at once, and the seconds one stream may last before it must be restarted.
LIVE_SESSIONS = env_int("HRGCNET_APP_LIVE_SESSIONS", 2, minimum=1)
LIVE_TIME_LIMIT_S = env_int("HRGCNET_APP_LIVE_TIME_LIMIT_S", 300, minimum=1)
#: Events waiting in the queue before new ones are refused.
QUEUE_MAX_SIZE = env_int("HRGCNET_APP_QUEUE_SIZE", 32, minimum=1)
#: glibc malloc arenas of the server process (0: glibc's default, 8 per core). Every Gradio worker thread
#: otherwise gets its own arena, and freed image and heatmap buffers stay mapped in them: under 16 concurrent
#: users RSS grew by +268 MB over 160 requests with the default and +99 MB with 2 arenas (docs/reliability.md).
MALLOC_ARENAS = env_int("HRGCNET_APP_MALLOC_ARENAS", 2, minimum=0)
#: Wall-clock limit of one predict / compare request, seconds (checked after detection and between batches of
#: ``BATCH_PERSONS`` persons: a request ends at most one such batch past the limit).
REQUEST_TIME_LIMIT_S = env_float("HRGCNET_APP_REQUEST_TIME_LIMIT_S", 60.0, positive=True)
#: Wall-time bound of one attribution, seconds (Integrated Gradients steps are cut to fit).
ATTRIBUTION_BUDGET_S = env_float("HRGCNET_APP_ATTRIBUTION_BUDGET_S", 20.0, positive=True)
#: Longer side of the images kept per user and drawn on (keypoints stay in original pixels).
DISPLAY_MAX_SIDE = env_int("HRGCNET_APP_DISPLAY_MAX_SIDE", 1600, minimum=64)
#: Seconds a user's cached results live after they were last WRITTEN, i.e. after the last 'Estimate poses' or
#: 'Compare' (``gr.State(time_to_live=…)`` counts from the last time an event outputs the state; redraws and
#: views only read it, so they do not extend it). After that the handlers get None and say so.
STATE_TTL_S = env_int("HRGCNET_APP_STATE_TTL_S", 1800, minimum=60)
#: Precision of the app's networks (``PoseEstimator(precision=…)``): ``int8`` runs them quantized on OpenVINO (faster on
#: CPUs with VNNI, below the accuracy guard: docs/inference-speed.md); a network it cannot run that way (untrained,
#: on CUDA, NNCF missing) runs at ``auto``, with a note.
PRECISION = env_choice("HRGCNET_APP_PRECISION", "auto", ("auto", "fp32", "bf16", "int8"))
#: Persons per forward pass of the app's estimators: small, so that the time limit is checked within one image.
BATCH_PERSONS = 4
#: Box score below which the detectors drop boxes (the box-threshold slider starts here).
DETECTOR_MIN_SCORE = 0.25
#: Where the box-threshold slider starts: persons scoring lower are found (poses run, listed in the table) but not
#: drawn. Chosen by measurement: with the default detector offline (NanoDet-g, longer side 512) the three persons of
#: assets/three_people.jpg score 0.73-0.81 and its next box (the helmet) 0.43; on COCO val image 217285 the batter,
#: catcher and umpire score 0.84, 0.80 and 0.71; on coco/val.json precision is 0.88 at 0.5 (0.79 at 0.4).
BOX_THRESHOLD = 0.5
#: Models kept loaded at once (least recently used is dropped).
MAX_LOADED_MODELS = env_int("HRGCNET_APP_MAX_MODELS", 2, minimum=1)
#: Frames of an uploaded video processed at most (the first ones; the Video tab's slider ends here and starts at
#: ``VIDEO_DEFAULT_FRAMES``), and the wall-clock limit of one video request, seconds: processing stops before a frame
#: that would end past it (at the pace so far), and the frames done are returned.
VIDEO_MAX_FRAMES = env_int("HRGCNET_APP_VIDEO_MAX_FRAMES", 600, minimum=1)
VIDEO_DEFAULT_FRAMES = min(150, VIDEO_MAX_FRAMES)
VIDEO_TIME_LIMIT_S = env_float("HRGCNET_APP_VIDEO_TIME_LIMIT_S", 300.0, positive=True)

INPUT_SIZES = ("256x192", "384x288", "128x96")
DEFAULT_INPUT_SIZE = "256x192"
DETECTORS = (
    ("automatic: YOLO when its weights are available (online), else NanoDet-g", "auto"),
    ("NanoDet-g (offline)", "nanodet"),
    ("YOLO (Ultralytics; downloads its weights online)", "yolo"),
    ("SSDLite (offline, weak)", "ssd"),
    ("whole image is one person", "full"),
    ("my boxes (draw or type below)", "boxes"),
)
#: The detector the UI starts with: ``auto`` is YOLO online (e.g. on Spaces) and NanoDet-g offline, without a note.
DEFAULT_DETECTOR = "auto"
#: The models the app offers, in this order (the ``-table1`` presets are for the analysis app).
APP_MODELS = ("hrgcnet-w32", "hrgcnet-w48", "hrnet-w32", "hrnet-w48")
#: Models enabled when no model has committed weights (untrained, with a warning).
UNTRAINED_FALLBACK_MODELS = ("hrgcnet-w32", "hrnet-w32")


# ------------------------------------------------------------------------------------ model choices

def has_weights(name: str) -> bool:
    return default_weights_path(name) is not None


def enabled_models() -> list[str]:
    """Models the UI offers: those with committed weights; when none has any, hrgcnet-w32 and hrnet-w32
    run untrained (the UI says so)."""
    known = set(list_models())
    names = [n for n in APP_MODELS if n in known and has_weights(n)]
    return names or [n for n in UNTRAINED_FALLBACK_MODELS if n in known]


def model_choices() -> list[tuple[str, str]]:
    """``(label, name)`` pairs for the model dropdown."""
    return [(get_spec(n).label + ("" if has_weights(n) else " (untrained)"), n) for n in enabled_models()]


#: Names of the known data files (the last two parts of their paths) for the model card.
DATA_NAMES = {"coco/train.json": "COCO 2017 train persons", "lspet/train.json": "LSP-Extended",
              "coco/val.json": "COCO val2017 (val.json, 68 persons)",
              "coco/dev.json": "COCO val2017 (dev.json, 204 persons)"}


def data_name(path: str) -> str:
    """A data file as users know it (no local paths): a known file's name, else its last two path parts."""
    short = "/".join(Path(str(path)).parts[-2:])
    return DATA_NAMES.get(short, short)


def model_card(name: str) -> str:
    """The model's card as Markdown: where its weights come from, what they saw and scored, or that it is
    untrained. Data files are named, never given as local paths."""
    spec = get_spec(name)
    path = default_weights_path(name)
    if path is None:
        return (f"**{spec.label}**: no trained weights yet, it runs with **untrained (random) weights**: "
                "keypoints are noise. Useful only to explore the architecture (heatmaps, GC attention).")
    meta = read_metadata(path)
    rows = []
    data = meta.get("source") or meta.get("data")
    if data:
        rows.append(("trained on", ", ".join(data_name(d) for d in (data if isinstance(data, (list, tuple))
                                                                     else [data]))))
    size = weights_input_size(name)
    if meta.get("samples_seen") is not None:
        rows.append(("samples seen", f"{int(meta['samples_seen']):,}" + (f" at {size}" if size else "")))
    if size:
        rows.append(("input size", f"{size} (the size it was trained at and runs best at)"))
    ap = meta.get("ap")
    if isinstance(ap, (int, float)):
        where = f" on {data_name(meta['val_ann'])}" if meta.get("val_ann") else ""
        rows.append(("accuracy", f"measured AP {float(ap):.3f}{where}, ground-truth boxes, flip test"))
    rows.append(("licence", "MIT, like the code"))
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    note = f"\n\n{meta['note']}" if meta.get("note") else ""
    return f"**{spec.label}**, weights `{path.name}`\n\n| | |\n|---|---|\n{table}{note}"


def weights_input_size(name: str) -> str | None:
    """The input size (``"HxW"``) the committed weights of ``name`` were trained at, from their metadata."""
    hw = trained_input_hw(name)
    return None if hw is None else f"{hw[0]}x{hw[1]}"


def default_input_size(name: str) -> str:
    """The input size the UI starts with for ``name``: its weights' own size when the UI offers it."""
    size = weights_input_size(name)
    return size if size in INPUT_SIZES else DEFAULT_INPUT_SIZE


def untrained_banner(names: list[str] | None = None) -> str:
    """The warning shown at the top while any offered model runs with untrained weights ('' if none)."""
    names = enabled_models() if names is None else names
    untrained = [get_spec(n).label for n in names if not has_weights(n)]
    if not untrained:
        return ""
    return ("⚠️ **Untrained weights: keypoints are noise.** No trained weights are committed for "
            f"{', '.join(untrained)}, so these models run with a random initialisation. The app works end "
            "to end (detection, heatmaps, GC attention, attributions), but the poses mean nothing yet.")


# ------------------------------------------------------------------------------------------- GPU

def on_gpu(fn: Callable | None = None, *, duration: float | None = None) -> Callable:
    """``fn`` under ``spaces.GPU`` when the ``spaces`` package is installed: on a Hugging Face ZeroGPU Space a call
    then gets a GPU for its duration; anywhere else ``spaces.GPU`` hands ``fn`` back unchanged. For the handlers
    that run the network (predict, compare, attribution, video); not the live webcam, whose frames would each claim
    one. ``duration``: the seconds a call may hold the GPU (ZeroGPU's default is 60); ``@on_gpu(duration=...)``."""
    if fn is None:
        return functools.partial(on_gpu, duration=duration)
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(fn) if duration is None else spaces.GPU(fn, duration=duration)


# ------------------------------------------------------------------------------------- shared cache

@dataclass
class ShownOnly:
    """A detector that keeps only the persons scoring at least ``min_score`` (the box threshold): for trackers
    (video, live webcam), which would otherwise run the network on, and track, persons that are never drawn."""

    detector: Detector
    min_score: float

    @property
    def name(self) -> str:
        return self.detector.name

    @property
    def notes(self) -> list[str]:
        return self.detector.notes

    @property
    def weights(self) -> Any:
        return getattr(self.detector, "weights", None)

    def __call__(self, image: np.ndarray, **kwargs: Any):
        det = self.detector(image, **kwargs)
        return det.keep(det.box_scores >= self.min_score)


@dataclass
class LoadedModel:
    """A network loaded once and shared by every user, with what the UI must say about it."""

    name: str
    estimator: PoseEstimator  # built with the 'full' detector; its .model is the shared network
    untrained: bool
    notes: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: the network compiled by the fast backend per input size (``PoseEstimator.fast_network``), when there is one
    fast: dict[tuple[int, int], Any] = field(default_factory=dict)


class ModelCache:
    """Networks by model name and detectors by name, loaded on first use (thread-safe, LRU-bounded)."""

    def __init__(self, max_models: int = MAX_LOADED_MODELS) -> None:
        self.max_models = max_models
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._detectors: dict[str, Detector] = {}
        self._lock = threading.Lock()

    def model(self, name: str) -> LoadedModel:
        """The shared network ``name`` with its committed weights (random init when there are none)."""
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            notes = []
            try:
                est = PoseEstimator(name, weights="default", device="auto", detector="full", precision=PRECISION)
            except UsageError as exc:
                if PRECISION == "auto":
                    raise
                est = PoseEstimator(name, weights="default", device="auto", detector="full")
                notes.append(f"precision {PRECISION} unavailable ({exc}): {name} runs at the automatic precision")
            loaded = LoadedModel(name, est, est.untrained, list(est.notes) + notes)
            self._models[name] = loaded
            while len(self._models) > self.max_models:
                self._models.popitem(last=False)
            return loaded

    def detector(self, name: str) -> Detector:
        """The shared detector ``name`` (``auto``, ``yolo``, ``nanodet``, ``ssd``, ``full``); ``auto`` is YOLO when
        its weights are available, else NanoDet-g (no note); an explicit ``yolo`` falls back offline, with a note."""
        with self._lock:
            if name not in self._detectors:
                with warnings.catch_warnings():  # a fallback is reported through the detector's notes
                    warnings.simplefilter("ignore", UserWarning)
                    self._detectors[name] = create_detector(name, min_score=DETECTOR_MIN_SCORE)
            return self._detectors[name]

    def estimator(self, model: str, detector: Detector, input_size: str, flip_test: bool,
                  oks_nms: bool = True) -> tuple[PoseEstimator, LoadedModel]:
        """A cheap :class:`PoseEstimator` around the shared network with these settings.

        Use it inside ``with loaded.lock:``: GC attention capture writes into the shared network.
        """
        loaded = self.model(model)
        base = loaded.estimator
        input_hw = parse_input_hw(input_size)
        est = PoseEstimator.from_model(base.model, input_hw=input_hw, device=base.device,
                                       detector=detector, flip_test=flip_test, precision=base.precision,
                                       max_persons=MAX_PERSONS, max_batch=BATCH_PERSONS, oks_nms=oks_nms,
                                       channels_last=base.channels_last, name=model,
                                       fast_network=self.fast_network(loaded, input_hw))
        return est, loaded

    def fast_network(self, loaded: LoadedModel, input_hw: tuple[int, int]):
        """``loaded``'s network compiled by its estimator's backend for ``input_hw`` (exported once per size,
        then read from the backend's cache), or None when it runs on torch."""
        base = loaded.estimator
        if base.fast_network is None:
            return None
        with loaded.lock:
            if input_hw not in loaded.fast:
                if input_hw == base.input_hw:
                    loaded.fast[input_hw] = base.fast_network
                else:
                    from hrgcnet.backends.openvino import compile_network

                    loaded.fast[input_hw] = compile_network(base.model, base.model_name, input_hw,
                                                            base.precision)[0]
            return loaded.fast[input_hw]

    def loaded_names(self) -> list[str]:
        with self._lock:
            return list(self._models)


#: The process-wide cache every handler uses.
MODELS = ModelCache()


# -------------------------------------------------------------------------------------- user state

@dataclass
class Run:
    """One model's result on one image, cached per user (``gr.State``).

    Attributes:
        result: the pose result with heatmaps, crops and (for HRGCNet) GC attention maps.
        display: the image ``(h, w, 3)`` uint8 at display size; ``display_scale`` = display / original.
        model, input_size, flip_test, detector: the settings it ran with; ``untrained``: random weights.
        source: the input file it came from (to check that a comparison uses the same image).
        image_id: COCO image id written into the JSON results.
        load_notes: notes from reading the image (e.g. EXIF rotation), shown with the result's notes.
        backend: where the network ran (``torch``, ``openvino``; OpenVINO also gives the GC attention maps).
        settings: the controls it ran with, ``(model, input size, detector choice, flip test)``, to tell when
            the controls have changed since (the result on screen is then stale).
    """

    result: PoseResult
    display: np.ndarray
    display_scale: float
    model: str
    input_size: str
    flip_test: bool
    detector: str
    untrained: bool
    source: str
    image_id: int
    load_notes: list[str] = field(default_factory=list)
    backend: str = "torch"
    settings: tuple = ()


@dataclass
class Session:
    """Everything one user's redraws need: the main run and, after a comparison, the other model's run
    on the same boxes."""

    run: Run | None = None
    other: Run | None = None


def display_image(image: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> tuple[np.ndarray, float]:
    """``image`` shrunk so its longer side is at most ``max_side`` -> ``(image, scale)``."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def detector_text(detector: Detector) -> str:
    """``"yolo (yolo11n.pt)"``, ``"ssd"``, ... for the timings line."""
    return detector_label(detector)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (``mallopt(M_ARENA_MAX)``); False where there is no glibc
    (macOS, musl, Windows) or ``arenas`` is 0. Arenas that already exist are kept, so call it early."""
    import ctypes
    import ctypes.util

    if arenas <= 0:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_arena_max = -8  # from glibc's malloc.h
        return bool(libc.mallopt(m_arena_max, int(arenas)))
    except (OSError, AttributeError):
        return False
