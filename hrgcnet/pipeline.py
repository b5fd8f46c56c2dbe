"""Top-down pose estimation: detect persons -> crop -> network -> decode, one API for CLI and apps.

Note:
    N: persons in the image; K: keypoints (17); ``input_hw`` (H, W): crop size; (h, w) = (H/4, W/4):
    heatmap size. Images are ``(H_img, W_img, 3)`` uint8 RGB unless ``color="bgr"`` is passed.

Example::

    est = PoseEstimator("hrgcnet-w32")   # detector "auto": YOLO when its weights are available, else NanoDet-g
    res = est("photo.jpg", return_heatmaps=True)
    res.keypoints            # (N, 17, 3) x, y, score in image pixels
    res.to_coco_json(1)      # COCO keypoint results
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .backends import cpu_supports_bf16
from .codecs import MSRAHeatmap
from .detectors import DEFAULT_DETECTOR, Detections, Detector, create_detector, valid_boxes
from .errors import TimeLimitError, UsageError
from .evaluation.nms import OKS_NMS_THRESHOLD, areas_from_scale, oks_nms, rescore_instances
from .models.tta import flip_test as run_flip_test
from .structures.bbox import box_xyxy_to_center_scale, heatmap_to_image_coords, warp_crop
from .io import ImageSource, load_image_with_notes
from .structures import IMAGENET_MEAN, IMAGENET_STD, NUM_KEYPOINTS

DEFAULT_INPUT_HW = (256, 192)
#: Persons per image kept by default (highest box scores first); COCO evaluation also stops at 20.
DEFAULT_MAX_PERSONS = 20
UNTRAINED_NOTE = ("untrained weights: {name} has no committed weights, so it runs with a random init and its "
                  "keypoints are meaningless")


@dataclass
class PoseResult:
    """Poses of one image. Every per-person array has the same length N (in the same person order).

    Attributes:
        boxes: ``(N, 4)`` float32 x1, y1, x2, y2 image pixels.
        box_scores: ``(N,)`` float32.
        keypoints: ``(N, K, 3)`` float32 x, y, score in image pixels (x, y clipped to the image).
        instance_scores: ``(N,)`` float32, box score x mean keypoint score above 0.2 (official rescoring).
        center, scale: ``(N, 2)`` float64 crop center (pixels) and scale (``PIXEL_STD`` units).
        input_hw: crop size (H, W); image_hw: image size (H, W).
        timings: ``{"detect_ms", "pose_ms", "decode_ms"}``.
        heatmaps: ``(N, K, h, w)`` float32 when requested, else None.
        attention: ``{block_name: (N, h_b, w_b)}`` float32 GC attention maps when requested, else None.
        crops: ``(N, H, W, 3)`` uint8 RGB crops when requested, else None.
        notes: messages for the user (untrained weights, detector fallback, persons dropped, ...).
        detected: boxes the detector found (or that were given) before the ``max_persons`` cap and OKS-NMS; at
            least ``N``. None for results built without it.
        track_ids: ``(N,)`` int64 person identities across video frames (:mod:`hrgcnet.video`), else None.
    """

    boxes: np.ndarray
    box_scores: np.ndarray
    keypoints: np.ndarray
    instance_scores: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    input_hw: tuple[int, int]
    image_hw: tuple[int, int]
    timings: dict[str, float] = field(default_factory=dict)
    heatmaps: np.ndarray | None = None
    attention: dict[str, np.ndarray] | None = None
    crops: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    detected: int | None = None
    track_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def select(self, index: np.ndarray | Sequence[int] | slice) -> "PoseResult":
        """The persons picked by a boolean mask ``(N,)``, an index array or a slice."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]

        return replace(
            self, boxes=self.boxes[index], box_scores=self.box_scores[index], keypoints=self.keypoints[index],
            instance_scores=self.instance_scores[index], center=self.center[index], scale=self.scale[index],
            heatmaps=pick(self.heatmaps), crops=pick(self.crops), track_ids=pick(self.track_ids),
            attention=None if self.attention is None else {k: v[index] for k, v in self.attention.items()},
            timings=dict(self.timings), notes=list(self.notes))

    def to_coco_json(self, image_id: int, category_id: int = 1) -> list[dict]:
        """COCO keypoint results: ``[{"image_id", "category_id", "keypoints": [x, y, score] * K, "score"}]``,
        with ``"track_id"`` when :attr:`track_ids` is set."""
        out = []
        for n, (kpts, score) in enumerate(zip(self.keypoints, self.instance_scores)):
            row = {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [round(float(v), 3) for v in kpts.reshape(-1)],
                "score": round(float(score), 6),
            }
            if self.track_ids is not None:
                row["track_id"] = int(self.track_ids[n])
            out.append(row)
        return out


def select_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None: CUDA when available, else CPU; otherwise ``torch.device(device)`` (checked)."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UsageError(f"unknown device {device!r}; use auto, cpu or cuda") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("device 'cuda' requested but CUDA is not available; use --device cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UsageError(f"device {device!r} does not exist; {torch.cuda.device_count()} CUDA device(s) found")
    return dev


INT8_NEEDS_OPENVINO = "precision int8 runs on the openvino backend (a CPU, trained weights)"


def select_autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: plain fp32).

    ``"auto"``: fp16 on CUDA; bf16 on a CPU with native bf16 (:func:`cpu_supports_bf16`), else fp32. ``"int8"``
    (the OpenVINO backend's) leaves what runs in torch (attention maps, attributions) in fp32.
    """
    if precision in ("fp32", "int8"):
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if precision != "auto":
        raise UsageError(f"precision must be auto, fp32, bf16, fp16 or int8, got {precision!r}")
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None


def parse_input_hw(value: Sequence[int] | str) -> tuple[int, int]:
    """``(256, 192)`` or ``"256x192"`` -> (H, W), both positive multiples of 32."""
    if isinstance(value, str):
        try:
            h, w = (int(v) for v in value.lower().split("x"))
        except ValueError:
            raise UsageError(f"input size must look like 256x192 (HxW), got {value!r}") from None
    else:
        h, w = (int(v) for v in value)
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise UsageError(f"input size must be positive multiples of 32 (HxW), got {h}x{w}")
    return h, w


def weights_input_hw(path: str | Path) -> tuple[int, int] | None:
    """The crop size (H, W) a ``.safetensors`` weights file was trained at, from its metadata (``input_size`` or
    ``input_hw``); None for other files and when the metadata has no valid size."""
    from .models.weights import read_metadata

    path = Path(path)
    if path.suffix != ".safetensors":
        return None
    meta = read_metadata(path)
    for value in (meta.get("input_size"), meta.get("input_hw")):
        try:
            return parse_input_hw(value)
        except (UsageError, TypeError, ValueError):
            continue
    return None


def highest_scores(box_scores: np.ndarray, max_persons: int | None) -> tuple[np.ndarray, str | None]:
    """Indices of the persons kept, highest box score first (at most ``max_persons``; None: all), and a note
    for the user when some were dropped."""
    order = np.argsort(-np.asarray(box_scores), kind="stable")
    if max_persons is None or len(order) <= max_persons:
        return order, None
    return order[:max_persons], f"{len(order)} persons found; kept the {max_persons} with the highest box scores"


def trained_input_hw(model_name: str) -> tuple[int, int] | None:
    """The crop size (H, W) the committed weights of ``model_name`` were trained at; None without weights or size."""
    from .models.weights import default_weights_path

    path = default_weights_path(model_name)
    return weights_input_hw(path) if path is not None else None


class Deadline:
    """A wall-clock limit started at construction; :meth:`check` raises :class:`TimeLimitError` once it is past."""

    def __init__(self, limit_s: float) -> None:
        if not limit_s > 0:
            raise UsageError(f"time limit must be a positive number of seconds, got {limit_s!r}")
        self.limit_s = float(limit_s)
        self.start = time.perf_counter()

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.start

    def check(self, where: str) -> None:
        """Raise if the limit is past; ``where`` says what was about to run (for the message)."""
        elapsed = self.elapsed_s()
        if elapsed > self.limit_s:
            raise TimeLimitError(f"stopped {where}: {elapsed:.1f} s elapsed, over the time limit of "
                                 f"{self.limit_s:g} s (try a smaller input size, fewer persons or no flip test)")


def _on_device(net: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """``net`` on ``device`` (and in channels-last memory), moved only when its first parameter (first 4-D weight) is
    not: ``Module.to`` walks every submodule, about 22 ms per call for these networks on a busy 2-core CPU, and the apps
    wrap one shared network in a new estimator per request."""
    first = next(net.parameters(), None)
    if first is not None and first.device != device:
        net = net.to(device)
    weight = next((p for p in net.parameters() if p.dim() == 4), None)
    if channels_last and weight is not None and not weight.is_contiguous(memory_format=torch.channels_last):
        net = net.to(memory_format=torch.channels_last)
    return net


class PoseEstimator:
    """Top-down pose estimator: person detector + HRNet/HRGCNet + heatmap decoding.

    Args:
        model: model name (``hrgcnet-w32``, ``hrnet-w32``, ... see ``hrgcnet.models.list_models``).
        weights: ``"default"`` (the committed weights of ``model``; random init with
            ``untrained=True`` and a note when there are none), None (random init), or a path.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        detector: ``"auto"`` (default: ``yolo`` when its weights are here or can be downloaded, else ``nanodet``,
            without a note), ``"yolo"``, ``"nanodet"``, ``"ssd"``, ``"full"``, a COCO JSON path (``boxes``) or a
            detector object. A named detector that cannot load falls back to ``nanodet``, ``ssd``, then ``full``
            (noted in every result).
        flip_test: average with the flipped crop (official flip test with the one-pixel shift).
        input_hw: crop size (H, W); default: the weights' metadata ``input_size``, else 256x192.
        refine: heatmap decoding: ``"dark"`` (default: a Taylor step on the blurred log-heatmap, Zhang et al. 2020;
            +0.007 / +0.012 dev.json AP over ``"quarter"`` for the committed hrgcnet-w32 / hrnet-w32),
            ``"quarter"`` (the official HRNet rule) or ``"none"``.
        precision: ``"auto"`` (fp16 autocast on CUDA, bf16 on CPUs with native bf16, else fp32),
            ``"fp32"``, ``"bf16"``, ``"fp16"``, or ``"int8"`` (the OpenVINO backend only: the network quantized
            by NNCF on first use, :mod:`hrgcnet.backends.int8`; AP as fp32's, but fewer keypoints within a pixel).
        max_persons: most persons per image (highest box scores); None for no limit.
        max_batch: most crops per forward pass (the flip test doubles it).
        oks_nms: drop duplicate persons with OKS-NMS (threshold 0.9, official evaluation).
        detector_kwargs: passed to :func:`hrgcnet.detectors.create_detector`.
        channels_last: run the network in channels-last memory format (faster on CPU and GPU).
        backend: where the network runs (:mod:`hrgcnet.backends`): ``"auto"`` (OpenVINO on a CPU, exported
            once per network and input size into a cache, torch on CUDA and for untrained networks),
            ``"torch"`` or ``"openvino"``; None: ``$HRGCNET_BACKEND``, else ``"auto"``. Calls that return GC
            attention also run the torch network once over the plain crops (its hooks give the maps).
    """

    def __init__(self, model: str = "hrgcnet-w32", weights: str | os.PathLike | None = "default",
                 device: str | torch.device | None = "auto", detector: str | Detector = DEFAULT_DETECTOR,
                 flip_test: bool = True, input_hw: Sequence[int] | str | None = None, refine: str = "dark",
                 precision: str = "auto", max_persons: int | None = DEFAULT_MAX_PERSONS, max_batch: int = 32,
                 oks_nms: bool = True, detector_kwargs: dict | None = None, channels_last: bool = True,
                 backend: str | None = None) -> None:
        from .models import create_model, get_spec
        from .models.weights import default_weights_path

        self.notes: list[str] = []
        self.model_name = str(model)
        self.untrained = False
        self.device = select_device(device)
        weights_path: Path | None = None
        if weights == "default":
            weights_path = default_weights_path(self.model_name)
            if weights_path is None:
                get_spec(self.model_name)  # UsageError for an unknown name before the note
                self.untrained = True
                self.notes.append(UNTRAINED_NOTE.format(name=self.model_name))
        elif weights is None:
            self.untrained = True
            self.notes.append(f"untrained weights: {self.model_name} runs with a random init (weights=None)")
        else:
            weights_path = Path(weights)
        net = create_model(self.model_name, weights=weights_path)
        if input_hw is None:
            input_hw = (weights_input_hw(weights_path) if weights_path is not None else None) or DEFAULT_INPUT_HW
        self.weights = None if weights_path is None else str(weights_path)
        self._setup(net.eval(), parse_input_hw(input_hw), flip_test, refine, precision, max_persons, max_batch,
                    oks_nms, channels_last)
        self._setup_backend(backend, weights_path)
        if self.precision == "int8" and self.backend != "openvino":
            raise UsageError(f"{INT8_NEEDS_OPENVINO}, not on {self.backend}")
        self.detector = self._make_detector(detector, detector_kwargs)

    @classmethod
    def from_model(cls, model: nn.Module, *, input_hw: Sequence[int] | str = DEFAULT_INPUT_HW,
                   device: str | torch.device | None = None, detector: str | Detector = "full",
                   flip_test: bool = True, refine: str = "dark", precision: str = "fp32",
                   max_persons: int | None = None, max_batch: int = 32, oks_nms: bool = True,
                   channels_last: bool = False, name: str | None = None,
                   fast_network: Callable[[torch.Tensor], torch.Tensor] | None = None) -> "PoseEstimator":
        """Wrap an already built network (e.g. during training validation) without copying it.

        Defaults differ from ``__init__`` where validation needs it: the model's own device, fp32, no
        person cap, memory format left as it is, and the ``full`` detector (pass boxes instead).
        The caller keeps control of ``model.eval()``. ``fast_network``: the same network compiled for this
        ``input_hw`` by a backend (e.g. an :class:`~hrgcnet.backends.openvino.OpenVINONetwork` the caller keeps),
        which then computes the heatmaps; None runs ``model``.
        """
        self = cls.__new__(cls)
        self.notes = []
        self.model_name = name or type(model).__name__
        self.untrained = False
        self.weights = None
        if device is None:
            param = next(model.parameters(), None)
            self.device = param.device if param is not None else torch.device("cpu")
        else:
            self.device = select_device(device)
        self._setup(model, parse_input_hw(input_hw), flip_test, refine, precision, max_persons, max_batch,
                    oks_nms, channels_last)
        self._setup_backend("torch", None)
        if precision == "int8" and fast_network is None:
            raise UsageError(f"{INT8_NEEDS_OPENVINO}: pass its fast_network")
        if fast_network is not None:
            self.fast_network, self.backend = fast_network, getattr(fast_network, "name", "fast")
        self.detector = self._make_detector(detector, None)
        return self

    def _setup(self, net: nn.Module, input_hw: tuple[int, int], flip_test: bool, refine: str, precision: str,
               max_persons: int | None, max_batch: int, oks_nms: bool, channels_last: bool) -> None:
        if refine not in ("quarter", "dark", "none"):
            raise UsageError(f"refine must be quarter, dark or none, got {refine!r}")
        if max_batch < 1 or (max_persons is not None and max_persons < 1):
            raise UsageError("max_batch and max_persons must be at least 1")
        self.input_hw = input_hw
        self.heatmap_hw = (input_hw[0] // 4, input_hw[1] // 4)
        self.flip_test = bool(flip_test)
        self.refine = refine
        self.precision = precision
        self.autocast_dtype = select_autocast_dtype(self.device, precision)
        self.max_persons = max_persons
        self.max_batch = int(max_batch)
        self.oks_nms = bool(oks_nms)
        self.channels_last = bool(channels_last)
        self.model = _on_device(net, self.device, channels_last)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255.0
        self._lock = threading.Lock()  # capture_gc_attention and the detectors hold per-call state

    def _setup_backend(self, backend: str | None, weights_path: Path | None) -> None:
        """Resolve ``backend``; for OpenVINO, export the network once (cached) and compile it."""
        from .backends import resolve_backend

        self.backend = resolve_backend(backend or os.environ.get("HRGCNET_BACKEND") or "auto", self.device,
                                       self.untrained)
        #: the network's fast path (heatmaps only), or None for the torch network itself
        self.fast_network = None
        #: how the backend came to be (e.g. the one-time export's duration), for the CLI and the apps
        self.backend_note: str | None = None
        if self.backend == "openvino":
            from .backends.openvino import compile_network
            from .models.weights import read_metadata

            safetensors = weights_path is not None and weights_path.suffix == ".safetensors"
            self.fast_network, self.backend_note = compile_network(
                self.model, self.model_name, self.input_hw, self.precision,
                read_metadata(weights_path) if safetensors else None)

    def _make_detector(self, detector: str | Detector, kwargs: dict | None) -> Detector:
        if not isinstance(detector, str):
            self.notes.extend(getattr(detector, "notes", []))  # e.g. "yolo unavailable, using ssd"
            return detector
        kwargs = dict(kwargs or {})
        if detector in ("auto", "yolo", "nanodet"):
            kwargs.setdefault("device", str(self.device))
            kwargs.setdefault("backend", self.backend)  # NanoDet runs where the pose network does
        det = create_detector(detector, **kwargs)
        self.notes.extend(det.notes)
        return det

    def __repr__(self) -> str:
        dtype = "fp32" if self.autocast_dtype is None else str(self.autocast_dtype).replace("torch.", "")
        if self.fast_network is not None:
            dtype = self.fast_network.precision
        return (f"PoseEstimator({self.model_name!r}, input_hw={self.input_hw}, device={str(self.device)!r}, "
                f"backend={self.backend!r}, precision={dtype}, "
                f"detector={getattr(self.detector, 'name', self.detector)!r}, "
                f"flip_test={self.flip_test}, untrained={self.untrained})")

    # ------------------------------------------------------------------------------------------ steps

    def crops(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crops of ``boxes (N, 4)`` xyxy from ``image (H, W, 3)``.

        Returns:
            crops ``(N, H_in, W_in, 3)`` uint8, center ``(N, 2)`` and scale ``(N, 2)``.
        """
        center, scale = box_xyxy_to_center_scale(np.asarray(boxes, np.float64).reshape(-1, 4), self.input_hw)
        crops = np.zeros((len(center), *self.input_hw, 3), dtype=np.uint8)
        for i in range(len(center)):
            crops[i] = warp_crop(image, center[i], scale[i], self.input_hw)
        return crops, center, scale

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            return self.model(x).float()

    def _fast_forward_keeping_attention(self, x: torch.Tensor, maps: dict, n: int) -> torch.Tensor:
        """Heatmaps of ``x`` from the fast network, its α outputs of the first ``n`` crops (the plain ones of a flip
        batch) stored in ``maps``."""
        heatmaps, *alphas = self.fast_network.infer(x)
        maps.update((name, torch.from_numpy(alpha[:n])) for name, alpha in zip(self.fast_network.attention_names,
                                                                                 alphas))
        return torch.from_numpy(heatmaps)

    def heatmaps_of_crops(self, crops: np.ndarray, return_attention: bool = False, deadline: Deadline | None = None
                          ) -> tuple[torch.Tensor, dict[str, np.ndarray] | None]:
        """Network heatmaps ``(N, K, h, w)`` float32 for uint8 RGB crops ``(N, H, W, 3)``, in batches.

        With ``return_attention``, also every GC block's attention ``{name: (N, h_b, w_b)}`` (for the
        plain, unflipped crops; a fast network gives them from the same forward as the heatmaps when it outputs
        them, else one extra pass of the torch network over the plain crops does). ``deadline`` is checked before
        each batch (:class:`TimeLimitError`).
        """
        from .models import capture_gc_attention

        n = crops.shape[0]
        forward = self._forward if self.fast_network is None else self.fast_network
        fast_attention = return_attention and bool(getattr(self.fast_network, "attention_names", None))
        outputs: list[torch.Tensor] = []
        attention: dict[str, list[np.ndarray]] = {}
        with torch.inference_mode():
            for start in range(0, n, self.max_batch):
                if deadline is not None:
                    deadline.check(f"before persons {start + 1}-{min(n, start + self.max_batch)} of {n}")
                x = torch.from_numpy(np.ascontiguousarray(crops[start:start + self.max_batch])).to(self.device)
                x = (x.permute(0, 3, 1, 2).float() - self._mean) / self._std  # (B, 3, H, W)
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                capture = (capture_gc_attention(self.model) if return_attention and not fast_attention
                           else contextlib.nullcontext({}))
                with capture as maps:
                    step = forward
                    if fast_attention:
                        step = functools.partial(self._fast_forward_keeping_attention, maps=maps, n=x.shape[0])
                    elif return_attention and self.fast_network is not None:
                        self._forward(x)  # the torch network's pass of the plain crops, for its GC attention only
                    out = run_flip_test(step, x) if self.flip_test else step(x)
                for name, alpha in maps.items():
                    attention.setdefault(name, []).append(alpha[: x.shape[0]].float().cpu().numpy())
                outputs.append(out.float())
        heatmaps = torch.cat(outputs) if outputs else torch.zeros(0, NUM_KEYPOINTS, *self.heatmap_hw)
        merged = {k: np.concatenate(v) for k, v in attention.items()} if return_attention else None
        return heatmaps, merged

    def decode(self, heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray,
               image_hw: tuple[int, int] | None = None) -> np.ndarray:
        """Heatmaps ``(N, K, h, w)`` of crops with ``center/scale (N, 2)`` -> keypoints ``(N, K, 3)`` in image pixels.

        With ``image_hw``, x and y are clipped to the image (``0..W-1``, ``0..H-1``); scores are kept.
        """
        codec = MSRAHeatmap(self.input_hw, heatmaps.shape[-2:], refine=self.refine)
        coords, scores = codec.decode(heatmaps)
        xy = heatmap_to_image_coords(coords, center, scale, heatmaps.shape[-2:])
        if image_hw is not None:
            xy[..., 0] = np.clip(xy[..., 0], 0, image_hw[1] - 1)
            xy[..., 1] = np.clip(xy[..., 1], 0, image_hw[0] - 1)
        return np.concatenate([xy, scores[..., None].astype(np.float64)], axis=-1).astype(np.float32)

    # ------------------------------------------------------------------------------------------ call

    def detect(self, image: np.ndarray, image_id: int | None = None, file_name: str | None = None
               ) -> tuple[Detections, float]:
        """The detector's persons in an ``(H, W, 3)`` RGB image, and the time it took (ms)."""
        with self._lock:
            t0 = time.perf_counter()
            det = self.detector(image, image_id=image_id, file_name=file_name)
            return det, (time.perf_counter() - t0) * 1000

    def __call__(self, image: ImageSource, boxes: np.ndarray | Sequence | None = None,
                 box_scores: np.ndarray | Sequence | None = None, *, color: str = "rgb",
                 image_id: int | None = None, file_name: str | None = None, return_heatmaps: bool = False,
                 return_attention: bool = False, return_crops: bool = False,
                 time_limit_s: float | None = None) -> PoseResult:
        """Estimate the poses of all persons in ``image``.

        Args:
            image: path, encoded bytes, PIL image or ``(H, W, 3)`` array (see :func:`hrgcnet.io.load_image`).
            boxes: ``(N, 4)`` x1, y1, x2, y2 person boxes; None runs the detector.
            box_scores: ``(N,)`` scores of ``boxes`` (default 1).
            color: channel order of an array ``image``: ``"rgb"`` or ``"bgr"`` (cv2.imread).
            image_id, file_name: passed to the detector (``boxes`` JSON look-up); ``file_name`` defaults to
                the name of a path ``image``.
            return_heatmaps / return_attention / return_crops: fill those fields of the result.
            time_limit_s: wall-clock limit of the call, checked after detection and before each batch of
                ``max_batch`` crops (a running forward pass is not interrupted, so a call can end up to one
                batch past the limit). None: no limit.

        Raises:
            ImageError: unreadable or invalid image. UsageError: malformed boxes.
            TimeLimitError: ``time_limit_s`` ran out (nothing is returned for a partial image).
        """
        deadline = None if time_limit_s is None else Deadline(time_limit_s)
        if file_name is None and isinstance(image, (str, os.PathLike)):
            file_name = Path(image).name
        img, notes = load_image_with_notes(image, color=color)
        notes = list(self.notes) + notes
        timings = {"detect_ms": 0.0, "pose_ms": 0.0, "decode_ms": 0.0}
        with self._lock:
            t0 = time.perf_counter()
            if boxes is None:
                det = self.detector(img, image_id=image_id, file_name=file_name)
                b, s = det.boxes.astype(np.float64), det.box_scores.astype(np.float64)
                notes.extend(det.notes)
            else:
                b, s = _check_boxes(boxes, box_scores, (int(img.shape[0]), int(img.shape[1])))
            timings["detect_ms"] = (time.perf_counter() - t0) * 1000
            detected = len(b)
            order, note = highest_scores(s, self.max_persons)
            notes += [note] if note else []
            b, s = b[order], s[order]

            if deadline is not None:
                deadline.check(f"after detecting {len(b)} person(s)")
            t0 = time.perf_counter()
            crops, center, scale = self.crops(img, b)
            heatmaps_t, attention = self.heatmaps_of_crops(crops, return_attention, deadline)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            heatmaps = heatmaps_t.cpu().numpy()
            timings["pose_ms"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        image_hw = (int(img.shape[0]), int(img.shape[1]))
        if len(b):
            keypoints = self.decode(heatmaps, center, scale, image_hw)
        else:
            keypoints = np.zeros((0, NUM_KEYPOINTS, 3), np.float32)
        instance_scores = rescore_instances(s, keypoints).astype(np.float32)
        result = PoseResult(
            boxes=b.astype(np.float32), box_scores=s.astype(np.float32), keypoints=keypoints,
            instance_scores=instance_scores, center=center, scale=scale, input_hw=self.input_hw,
            image_hw=image_hw, timings=timings,
            heatmaps=heatmaps if return_heatmaps else None, attention=attention,
            crops=crops if return_crops else None, notes=notes, detected=detected)
        if self.oks_nms and len(result) > 1:
            keep = np.sort(oks_nms(keypoints, instance_scores, areas_from_scale(scale), OKS_NMS_THRESHOLD))
            if len(keep) < len(result):
                result = result.select(keep)
                result.notes.append(f"OKS-NMS removed {len(b) - len(keep)} duplicate person(s)")
        result.timings["decode_ms"] = (time.perf_counter() - t0) * 1000
        return result


def _check_boxes(boxes: np.ndarray | Sequence, box_scores: np.ndarray | Sequence | None,
                 image_hw: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Checked boxes ``(N, 4)`` and box scores ``(N,)`` float64; with ``image_hw`` (H, W), a box that does not
    overlap the image at all is refused (boxes partly outside are fine: the crop is padded with zeros)."""
    try:
        b = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"boxes must be numbers (N, 4) x1, y1, x2, y2: {exc}") from exc
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim == 1 and b.shape[0] == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise UsageError(f"boxes must be (N, 4) x1, y1, x2, y2, got shape {b.shape}")
    bad = ~valid_boxes(b)
    if bad.any():
        raise UsageError(f"box {int(np.flatnonzero(bad)[0])} is not a valid x1, y1, x2, y2 box (finite, x2 > x1, "
                         f"y2 > y1): {b[bad][0].tolist()}")
    if image_hw is not None and len(b):
        h, w = image_hw
        outside = (b[:, 2] <= 0) | (b[:, 3] <= 0) | (b[:, 0] >= w) | (b[:, 1] >= h)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise UsageError(f"box {i} {b[i].round(1).tolist()} lies entirely outside the {w}x{h} image (W x H)")
    if box_scores is None:
        s = np.ones(len(b))
    else:
        s = np.asarray(box_scores, dtype=np.float64).reshape(-1)
        if s.shape[0] != b.shape[0] or not np.isfinite(s).all():
            raise UsageError(f"box_scores must be {b.shape[0]} finite numbers, got shape {s.shape}")
    return b, s
