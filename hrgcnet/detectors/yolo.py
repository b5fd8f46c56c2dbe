"""The ``yolo`` detector: an Ultralytics YOLO model, person class only.

The default ``weights="yolo11n.pt"`` is downloaded by Ultralytics on first use when the machine is
online (e.g. on Hugging Face Spaces) into :func:`yolo_cache_dir`. Offline, loading fails fast with
:class:`hrgcnet.errors.DownloadError`: the environment variables ``YOLO_OFFLINE``,
``HF_HUB_OFFLINE`` or ``HRGCNET_OFFLINE`` (any true value), or a DNS probe that does not answer
within :data:`ONLINE_PROBE_TIMEOUT_S`, stop the download before it starts; a download that stalls is
abandoned after :data:`DOWNLOAD_TIMEOUT_S`.
:func:`hrgcnet.detectors.create_detector` then falls back to ``nanodet`` (then ``ssd``, ``full``) with a note;
the default detector ``auto`` uses ``nanodet`` without one.

A ``.yaml`` model name (``"yolo11n.yaml"``) builds the architecture with random weights and no
download; it detects nothing useful but runs the same code path (used by the tests).

Ultralytics ``.pt`` files are pickles that can run code when loaded: use trusted files only.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from ..compat import ensure_torchvision_ops
from ..errors import DownloadError, UsageError
from ..models.download import cache_dir
from .base import Detections, valid_boxes

DEFAULT_YOLO_WEIGHTS = "yolo11n.pt"
#: Seconds the DNS probe may take before the machine is treated as offline.
ONLINE_PROBE_TIMEOUT_S = 3.0
#: Seconds a YOLO weights download may take before loading gives up (the download thread is left behind).
DOWNLOAD_TIMEOUT_S = 120.0
OFFLINE_ENV_VARS = ("YOLO_OFFLINE", "HF_HUB_OFFLINE", "HRGCNET_OFFLINE")


def yolo_cache_dir() -> Path:
    """Where downloaded YOLO weights go: ``$HRGCNET_CACHE/yolo`` (default ``~/.cache/hrgcnet/yolo``)."""
    return cache_dir() / "yolo"


def _import_yolo():
    """Import Ultralytics without its process-wide side effects.

    Ultralytics would pip-install missing packages at run time (off: ``YOLO_AUTOINSTALL=false``) and
    replaces ``PIL.Image.open`` with a wrapper that tries to install ``pi-heif`` on unknown files; the
    original ``Image.open`` is put back.
    """
    from PIL import Image

    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    original_open = Image.open
    try:
        from ultralytics import YOLO
    finally:
        Image.open = original_open
    return YOLO


def offline_reason() -> str | None:
    """Why downloads are off: the first offline variable that is set to a true value, else None."""
    for var in OFFLINE_ENV_VARS:
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var}={os.environ[var]} is set"
    return None


def _call_with_timeout(fn, arg, timeout_s: float):
    """``fn(arg)`` in a daemon thread; ``TimeoutError`` if it has not returned after ``timeout_s``."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = fn(arg)
        except BaseException as exc:  # handed to the caller
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer after {timeout_s} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


def _online(timeout_s: float | None = None) -> bool:
    """Ultralytics' DNS probe run in a daemon thread, so a stalled resolver cannot hang the caller; gives up after
    ``timeout_s`` (default :data:`ONLINE_PROBE_TIMEOUT_S`, read at call time)."""
    from ultralytics.utils import is_online

    timeout_s = ONLINE_PROBE_TIMEOUT_S if timeout_s is None else timeout_s
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(bool(is_online())), daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(result and result[0])


def resolve_yolo_weights(weights: str | os.PathLike) -> str:
    """A local file for ``weights`` or the cache path Ultralytics will download it to.

    Raises:
        DownloadError: the file is not local and downloading is off or impossible.
    """
    text = str(weights)
    if text.endswith((".yaml", ".yml")):
        return text
    path = Path(text).expanduser()
    if not path.suffix:
        path = path.with_suffix(".pt")  # Ultralytics asset stem, e.g. "yolo11n"
    if path.is_file():
        return str(path)
    if path.parent != Path("."):
        raise UsageError(f"YOLO weights not found: {path}")
    cached = yolo_cache_dir() / path.name
    if cached.is_file():
        return str(cached)
    from ultralytics.utils import SETTINGS

    in_settings = Path(SETTINGS["weights_dir"]) / path.name
    if in_settings.is_file():
        return str(in_settings)
    reason = offline_reason()
    if reason is None and not _online():
        reason = "no network (DNS lookup failed)"
    if reason is not None:
        raise DownloadError(f"cannot download YOLO weights {path.name!r}: {reason}. Put the file at {cached} "
                            "or pass a local weights path, or use the 'nanodet' (offline), 'ssd' or 'full' detector")
    cached.parent.mkdir(parents=True, exist_ok=True)
    return str(cached)


class YoloDetector:
    """Person boxes from an Ultralytics YOLO detection (or pose) model.

    Args:
        weights: ``.pt`` file or Ultralytics asset name (downloaded when online), or a model ``.yaml``
            (random weights).
        min_score: minimum box score (Ultralytics ``conf``).
        iou: NMS IoU threshold.
        imgsz: inference size (letterboxed longer side).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        max_det: most boxes per image.

    Raises:
        DownloadError: weights not local and downloading is off or failed.
        UsageError: Ultralytics missing, or a model without a usable person class.
    """

    name = "yolo"

    def __init__(self, weights: str | os.PathLike = DEFAULT_YOLO_WEIGHTS, min_score: float = 0.25,
                 iou: float = 0.7, imgsz: int = 640, device: str = "cpu", max_det: int = 100) -> None:
        ensure_torchvision_ops()  # before ultralytics imports torchvision
        try:
            YOLO = _import_yolo()
        except ImportError as exc:
            raise UsageError("the 'yolo' detector needs ultralytics: pip install ultralytics") from exc
        self.notes: list[str] = []
        self.weights = str(weights)
        source = resolve_yolo_weights(weights)
        local = Path(source).is_file() or source.endswith((".yaml", ".yml"))
        try:
            self.model = YOLO(source) if local else _call_with_timeout(YOLO, source, DOWNLOAD_TIMEOUT_S)
        except TimeoutError as exc:
            raise DownloadError(f"downloading YOLO weights {self.weights!r} took longer than "
                                f"{DOWNLOAD_TIMEOUT_S:.0f} s; put the file at {source} or use another detector") from exc
        except Exception as exc:  # ultralytics raises ConnectionError, FileNotFoundError, ...
            if local:
                raise UsageError(f"cannot load YOLO model {self.weights!r}: {exc}") from exc
            raise DownloadError(f"cannot download YOLO weights {self.weights!r}: {exc}") from exc
        names = dict(self.model.names or {})
        person = [i for i, n in names.items() if str(n).lower() == "person"]
        # Models built from a yaml have numeric names; class 0 is "person" in COCO order.
        self.person_class = int(person[0]) if person else 0
        if not person and names and not all(str(n).isdigit() for n in names.values()):
            raise UsageError(f"YOLO model {self.weights!r} has no 'person' class "
                             f"(classes: {list(names.values())[:10]})")
        self.min_score = float(min_score)
        self.iou = float(iou)
        self.imgsz = int(imgsz)
        self.device = "cpu" if device in ("auto", None) else str(device)
        self.max_det = int(max_det)
        self._lock = threading.Lock()  # the Ultralytics predictor is not re-entrant

    def __call__(self, image: np.ndarray, *, image_id: int | None = None,
                 file_name: str | None = None) -> Detections:
        """``image (H, W, 3)`` uint8 RGB -> person boxes in image pixels, by decreasing box score."""
        bgr = np.ascontiguousarray(image[..., ::-1])  # Ultralytics reads numpy arrays as BGR
        with self._lock:
            result = self.model.predict(bgr, classes=[self.person_class], conf=self.min_score, iou=self.iou,
                                        imgsz=self.imgsz, device=self.device, max_det=self.max_det,
                                        quantize=16 if self.device.startswith("cuda") else None,
                                        verbose=False)[0]
        boxes = result.boxes
        det = Detections(boxes.xyxy.float().cpu().numpy(), boxes.conf.float().cpu().numpy())
        det = det.keep(valid_boxes(det.boxes))
        return det.keep(np.argsort(-det.box_scores, kind="stable"))

    def __repr__(self) -> str:
        return f"YoloDetector({self.weights!r}, min_score={self.min_score}, device={self.device!r})"
