"""The ``nanodet`` detector: NanoDet-g (COCO-trained, person class) in PyTorch on the CPU; offline.

The weights are committed (``hrgcnet/weights/nanodet-g.safetensors``, 7.2 MiB fp16; provenance, licences,
conversion and measured numbers in ``hrgcnet/weights/README.md``): nothing is downloaded. The network is
:class:`hrgcnet.detectors.nanodet_net.NanoDetG`, loaded once per process and device.

Pipeline of one call:

1. Letterbox: the RGB image is resized, keeping its aspect ratio, so that its longer side is ``input_side``
   (512), and centred on a black canvas whose sides are rounded up to multiples of 32 (a 640x427 photo becomes
   512x352). Channels go to BGR and are normalised with NanoDet's mean ``(103.53, 116.28, 123.675)`` and std
   ``(57.375, 57.12, 58.395)``, NCHW float32.
2. The network gives, per stride s in (8, 16, 32) on a grid of ``h x w = H/s x W/s`` cells, the person class's
   scores ``(h*w, 1)`` (already through the sigmoid; the network is NanoDet-g with its other 79 classes cut from
   the head, :meth:`~hrgcnet.detectors.nanodet_net.NanoDetG.keep_classes`) and GFL box bins ``(h*w, 44)``
   (row-major cells).
3. :func:`decode_level`: cell (i, j) (column i, row j) has its centre at ``((i + 0.5) s, (j + 0.5) s)``; each
   of the four sides (left, top, right, bottom) has 11 bins; the side's distance is the expectation of the
   softmax over its bins (values 0..10) times s. The box is ``(cx - left, cy - top, cx + right, cy + bottom)`` in
   canvas pixels and its score the person-class score.
4. Boxes scoring at least ``min_score`` (at most ``pre_nms_top_k`` per level) go through greedy NMS (IoU above
   0.6 suppresses), at most ``max_det`` are kept, mapped back to image pixels and clipped to the image.

Input size: the converted graph was fixed at 416x416, but the network is fully convolutional. Measured on
``coco/val.json`` (``hrgcnet eval-boxes``), a longer side of 512 scores person-box AP 0.41 against 0.38 at 416
(and finds the umpire of COCO image 217285 at 0.71 instead of 0.26) for about the same pixel count on
landscape photos, so 512 is the default. Numbers and commands: ``hrgcnet/weights/README.md``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import UsageError
from .base import Detections, box_iou, valid_boxes

#: Longer side of the letterboxed input (multiple of 32; the graph it was converted from was fixed at 416x416).
NANODET_INPUT_SIDE = 512
NANODET_MEAN_BGR = (103.53, 116.28, 123.675)
NANODET_STD_BGR = (57.375, 57.12, 58.395)
#: Default box-score threshold of the detector (boxes below are dropped), chosen on ``coco/val.json`` at
#: 512: precision 0.88, recall 0.44 (hrgcnet/weights/README.md); the app keeps boxes down to 0.25.
NANODET_MIN_SCORE = 0.5
#: NMS IoU above which the lower-scoring of two boxes is dropped (NanoDet's own value).
NANODET_NMS_IOU = 0.6
PERSON_CLASS = 0
WEIGHTS_FILE = "nanodet-g.safetensors"


def default_weights_path() -> Path:
    """``hrgcnet/weights/nanodet-g.safetensors`` (committed)."""
    from ..models.weights import WEIGHTS_DIR

    return WEIGHTS_DIR / WEIGHTS_FILE


class _FlatOutputs(torch.nn.Module):
    """NanoDet-G with its levels' ``(scores, bins)`` as one flat tuple (what an exported graph returns)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(t for level in self.net(x) for t in level)


@functools.lru_cache(maxsize=8)
def _openvino_network(path: str, canvas_hw: tuple[int, int], precision: str):
    """The network at one canvas size on OpenVINO (exported into the backends' cache on first use, a few
    seconds; each letterbox shape is its own static graph, as OpenVINO runs those fastest)."""
    from ..backends.openvino import OpenVINONetwork, cached_ir

    meta = {"model": "nanodet-g", "input_size": f"{canvas_hw[0]}x{canvas_hw[1]}",
            "input": "letterboxed BGR canvas (1, 3, H, W) float32, (x - mean) / std",
            "mean": str(list(NANODET_MEAN_BGR)), "std": str(list(NANODET_STD_BGR)),
            "output": "per stride 8, 16, 32: person scores (1, H/s * W/s, 1), box bins (1, H/s * W/s, 44)"}
    xml, _ = cached_ir(_FlatOutputs(_network(path, "cpu")), "nanodet-g", canvas_hw, metadata=meta)
    return OpenVINONetwork(xml, precision)


@functools.lru_cache(maxsize=4)
def _network(path: str, device: str) -> torch.nn.Module:
    """NanoDet-g from ``path`` (all 80 classes' weights, loaded strictly), scoring the person class only."""
    from ..models.weights import load_state_dict_strict, load_weights
    from .nanodet_net import NanoDetG

    state_dict, _ = load_weights(path)
    net = NanoDetG().eval()
    load_state_dict_strict(net, state_dict, source=path)
    return net.keep_classes([PERSON_CLASS]).to(device=device, memory_format=torch.channels_last)


def letterbox(image: np.ndarray, side: int = NANODET_INPUT_SIDE, multiple: int = 32
              ) -> tuple[np.ndarray, float, tuple[float, float]]:
    """``image (H, W, 3)`` -> ``(canvas (Hc, Wc, 3), scale, (pad_x, pad_y))``: the image resized by ``scale`` so
    that its longer side is ``side``, centred on a black canvas whose sides are the resized sides rounded up to
    a multiple of ``multiple``; canvas pixel = image pixel * scale + pad."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    nw, nh = max(1, min(side, int(round(w * scale)))), max(1, min(side, int(round(h * scale))))
    cw, ch = -(-nw // multiple) * multiple, -(-nh // multiple) * multiple
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((ch, cw, 3), np.uint8)
    px, py = (cw - nw) // 2, (ch - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    return canvas, scale, (float(px), float(py))


def normalize(canvas_rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(1, 3, H, W)`` float32 BGR normalised with NanoDet's mean and std, contiguous.

    Plane by plane in numpy: a tenth of the time of the same arithmetic on a strided torch tensor (measured at
    416x320 on a 2-core Xeon)."""
    h, w = canvas_rgb.shape[:2]
    x = np.empty((1, 3, h, w), np.float32)
    for c, (mean, std) in enumerate(zip(NANODET_MEAN_BGR, NANODET_STD_BGR)):
        plane = x[0, c]
        plane[...] = canvas_rgb[..., 2 - c]  # BGR from RGB
        plane -= mean
        plane *= 1.0 / std
    return torch.from_numpy(x)


def cell_centers(grid_h: int, grid_w: int, stride: int) -> np.ndarray:
    """``(grid_h * grid_w, 2)`` x, y centres ``((i + 0.5) * stride, (j + 0.5) * stride)``, row-major (j, i)."""
    ys, xs = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    return np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1).astype(np.float32)


def distribution_distances(bins: np.ndarray, reg_max: int = 10) -> np.ndarray:
    """GFL: ``bins (N, 4 * (reg_max + 1))`` logits -> ``(N, 4)`` distances in cells (left, top, right, bottom):
    the expectation of ``softmax`` over each side's ``reg_max + 1`` bins at values ``0..reg_max``."""
    logits = np.asarray(bins, np.float64).reshape(-1, 4, reg_max + 1)
    logits = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=-1, keepdims=True)
    return (p @ np.arange(reg_max + 1, dtype=np.float64)).astype(np.float32)


def decode_level(scores: np.ndarray, bins: np.ndarray, grid_hw: tuple[int, int], stride: int,
                 class_index: int = PERSON_CLASS, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """One level's outputs ``scores (N, C)``, ``bins (N, 44)`` on a ``grid_hw`` grid (``N = h * w``, row-major) ->
    ``(boxes (M, 4) xyxy in input pixels, scores (M,))`` of class ``class_index`` for the M cells scoring at least
    ``min_score``, in cell order."""
    h, w = grid_hw
    if scores.shape[0] != h * w or bins.shape[0] != h * w:
        raise ValueError(f"{scores.shape[0]} scores / {bins.shape[0]} bins for a {h}x{w} grid")
    s = np.asarray(scores[:, class_index], np.float32)
    keep = np.flatnonzero(s >= min_score)
    centers = cell_centers(h, w, stride)[keep]
    d = distribution_distances(bins[keep]) * stride
    boxes = np.concatenate([centers - d[:, :2], centers + d[:, 2:]], axis=1)
    return boxes, s[keep]


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NANODET_NMS_IOU, max_keep: int | None = None
            ) -> np.ndarray:
    """Indices kept by greedy NMS, by decreasing score: ``boxes (N, 4)`` xyxy, ``scores (N,)``; a box whose IoU
    with a kept, higher-scoring box is above ``iou`` is dropped (torchvision's semantics, as
    :func:`hrgcnet.compat.nms_pure_torch`, here in numpy and stopping after ``max_keep`` kept boxes: 2-15x faster at
    50-1,000 boxes, measured on this machine)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    b = np.asarray(boxes, np.float64).reshape(-1, 4)[order]
    alive = np.ones(len(b), bool)
    keep: list[int] = []
    for i in range(len(b)):
        if not alive[i]:
            continue
        keep.append(i)
        if max_keep is not None and len(keep) >= max_keep:
            break
        alive[i + 1:] &= box_iou(b[i], b[i + 1:])[0] <= iou
    return order[np.asarray(keep, np.int64)]


def decode(outputs: list[tuple[np.ndarray, np.ndarray]], input_hw: tuple[int, int], min_score: float,
           strides: tuple[int, ...] = (8, 16, 32), pre_nms_top_k: int = 1000, nms_iou: float = NANODET_NMS_IOU,
           max_det: int = 100, class_index: int = PERSON_CLASS) -> tuple[np.ndarray, np.ndarray]:
    """All levels' ``(scores (N_l, C), bins (N_l, 44))`` for an ``input_hw`` input (multiples of 32) ->
    ``(boxes (M, 4) xyxy in input pixels, scores (M,))`` after the score threshold and NMS, by decreasing score."""
    all_boxes, all_scores = [], []
    for (scores, bins), stride in zip(outputs, strides):
        grid = (input_hw[0] // stride, input_hw[1] // stride)
        boxes, s = decode_level(scores, bins, grid, stride, class_index, min_score)
        if len(s) > pre_nms_top_k:
            top = np.argsort(-s, kind="stable")[:pre_nms_top_k]
            boxes, s = boxes[top], s[top]
        all_boxes.append(boxes)
        all_scores.append(s)
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4), np.float32)
    scores = np.concatenate(all_scores) if all_scores else np.zeros((0,), np.float32)
    keep = box_nms(boxes, scores, nms_iou, max_det)
    return boxes[keep], scores[keep]


class NanoDetDetector:
    """Person boxes from NanoDet-g (COCO-trained, class 0 = person), committed weights, PyTorch.

    Args:
        min_score: boxes with a lower box score are dropped.
        weights: the safetensors file; default the committed ``hrgcnet/weights/nanodet-g.safetensors``.
        device: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"``.
        nms_iou: NMS IoU threshold.
        max_det: most boxes per image.
        backend: ``"auto"`` (OpenVINO on a CPU where it is installed, else torch), ``"torch"`` or
            ``"openvino"``; None: ``$HRGCNET_BACKEND``, else ``"auto"`` (:func:`hrgcnet.backends.resolve_backend`).
        precision: OpenVINO's, ``"auto"`` (bf16 on CPUs with native bf16, else fp32), ``"fp32"`` or ``"bf16"``.

    Raises:
        UsageError: the weights file is missing (with the command that rebuilds it).
        WeightsError: the file is not NanoDet-g weights.
    """

    name = "nanodet"

    def __init__(self, min_score: float = NANODET_MIN_SCORE, weights: str | Path | None = None,
                 device: str = "cpu", nms_iou: float = NANODET_NMS_IOU, max_det: int = 100,
                 input_side: int = NANODET_INPUT_SIDE, backend: str | None = None, precision: str = "auto") -> None:
        self.weights = Path(weights) if weights is not None else default_weights_path()
        if not self.weights.is_file():
            raise UsageError(f"NanoDet weights not found: {self.weights}; rebuild them with "
                             "`python scripts/convert_nanodet.py` (see hrgcnet/weights/README.md)")
        self.device = "cpu" if device in (None, "auto") else str(device)
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.max_det = int(max_det)
        if input_side < 32 or input_side % 32:
            raise UsageError(f"NanoDet input_side must be a multiple of 32, got {input_side}")
        self.input_side = int(input_side)
        self.notes: list[str] = []
        self._net = _network(str(self.weights), self.device)
        from ..backends import resolve_backend

        self.backend = resolve_backend(backend or os.environ.get("HRGCNET_BACKEND") or "auto",
                                       torch.device(self.device))
        if precision == "auto":
            from ..backends import cpu_supports_bf16

            precision = "bf16" if cpu_supports_bf16() else "fp32"
        self.precision = precision

    def __call__(self, image: np.ndarray, *, image_id: int | None = None,
                 file_name: str | None = None) -> Detections:
        """``image (H, W, 3)`` uint8 RGB -> person boxes in image pixels, by decreasing box score."""
        h, w = image.shape[:2]
        canvas, scale, (px, py) = letterbox(image, self.input_side)
        x = normalize(canvas)
        if self.backend == "openvino":
            flat = _openvino_network(str(self.weights), canvas.shape[:2], self.precision).infer(x)
            out = [(flat[i][0], flat[i + 1][0]) for i in range(0, len(flat), 2)]
        else:
            with torch.inference_mode():
                x = x.to(self.device, memory_format=torch.channels_last)
                out = [(s[0].float().cpu().numpy(), b[0].float().cpu().numpy()) for s, b in self._net(x)]
        boxes, scores = decode(out, canvas.shape[:2], self.min_score, nms_iou=self.nms_iou, max_det=self.max_det,
                               class_index=0)  # the network's only class: the person
        boxes = (boxes - np.array([px, py, px, py], np.float32)) / scale
        boxes = np.clip(boxes, 0, [w, h, w, h])
        det = Detections(boxes, scores)
        return det.keep(valid_boxes(det.boxes))

    def __repr__(self) -> str:
        return (f"NanoDetDetector(min_score={self.min_score}, device={self.device!r}, backend={self.backend!r}, "
                f"precision={self.precision!r})")
