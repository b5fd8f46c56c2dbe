"""int8 for the OpenVINO backend: NNCF post-training quantization of the exported network.

Every convolution but the first (the stem's, which reads the normalised image), the last (the final layer, whose
output is the heatmaps) and those of the GC blocks runs with int8 weights and activations; the rest of the graph
(the GC blocks, the additions, the upsampling) runs in bf16 where the CPU has native bf16, else in f32
(:func:`hrgcnet.backends.openvino._hint`). The GC blocks' 1x1 convolutions and matrix products
cost next to nothing, and NNCF 3.4 fails to collect the statistics of their matrix products (it takes their
inputs for 4-D tensors). The activations' ranges come from a calibration set that
needs no dataset: the three persons of the example photo ``assets/three_people.jpg`` (a composite of three portraits
side by side, cut apart at its white gaps), each cropped :data:`CROPS_PER_PERSON` times with a random shift, scale
and, every other time, rotation, plus every crop's mirror image (:func:`calibration_crops`).

What it costs in accuracy (docs/inference-speed.md, measured on the 204 dev.json persons against torch fp32):
COCO AP within 0.007, but only 89-91% of the keypoints within 1 input pixel (94-96% of the labelled ones), where
the accuracy guard asks 99%. So int8 is a precision a user asks for, never what ``auto`` picks.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UsageError

CALIBRATION_IMAGE = Path(__file__).resolve().parents[2] / "assets" / "three_people.jpg"
CROPS_PER_PERSON = 40
#: the quantization recipe's version, part of the cached IR's name: raise it when what :func:`quantize_ir` or
#: :func:`calibration_crops` compute changes, so that caches do not keep the old recipe's IR
RECIPE = 1
#: the folder a quantized IR is written in before its files are renamed into place (left behind if killed)
PARTIAL_PREFIX = ".int8-"


def nncf_available() -> bool:
    return importlib.util.find_spec("nncf") is not None


def _panels(image: np.ndarray) -> list[tuple[int, int]]:
    """The column ranges of the portraits in the composite: the runs between its all-white columns."""
    content = image.min(axis=(0, 2)) < 235
    edges = np.flatnonzero(np.diff(np.r_[0, content.astype(np.int8), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a > 16]


def calibration_crops(input_hw: tuple[int, int], crops_per_person: int = CROPS_PER_PERSON,
                      seed: int = 0) -> np.ndarray:
    """Calibration crops ``(N, 3, H, W)`` float32 of the example photo's persons, ``2 * crops_per_person`` per
    person, normalised as the network reads them (``(x - mean) / std`` with the ImageNet mean and std times 255).

    Raises:
        UsageError: the example photo is missing (an installed package without the repository's ``assets/``).
    """
    from ..io import load_image
    from ..structures import IMAGENET_MEAN, IMAGENET_STD
    from ..structures.bbox import box_xyxy_to_center_scale, warp_crop

    if not CALIBRATION_IMAGE.is_file():
        raise UsageError(f"int8 calibrates on the example photo {CALIBRATION_IMAGE}, which is missing: run from a "
                         "checkout of the repository, or use precision fp32, bf16 or auto")
    image = load_image(CALIBRATION_IMAGE)
    boxes = np.array([[a, 0, b, image.shape[0]] for a, b in _panels(image)], np.float64)
    centers, scales = box_xyxy_to_center_scale(boxes, input_hw)
    rng = np.random.default_rng(seed)
    crops = []
    for center, scale in zip(centers, scales):
        for _ in range(crops_per_person):
            c = center + rng.uniform(-0.1, 0.1, 2) * scale * 200
            s = scale * rng.uniform(0.8, 1.25)
            rot = float(rng.uniform(-30, 30)) if rng.random() < 0.5 else 0.0
            crop = warp_crop(image, c, s, input_hw, rot)
            crops += [crop, crop[:, ::-1]]
    mean, std = (255 * np.asarray(v, np.float32) for v in (IMAGENET_MEAN, IMAGENET_STD))
    x = (np.stack(crops).astype(np.float32) - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def quantize_ir(xml: str | Path, out: str | Path, crops: np.ndarray) -> Path:
    """Write the int8 version of the OpenVINO IR ``xml`` to ``out`` (``.xml`` and ``.bin``, together), its
    activation ranges calibrated on ``crops (N, C, H, W)``; the IR's metadata is kept, with ``precision: int8``.

    Raises:
        UsageError: NNCF is not installed.
    """
    if not nncf_available():
        raise UsageError("precision int8 needs NNCF (post-training quantization): pip install nncf")
    import logging

    import nncf
    import openvino as ov

    logging.getLogger("nncf").setLevel(logging.WARNING)  # its per-operation INFO lines
    model = ov.Core().read_model(str(xml))
    convs = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    quantized = nncf.quantize(model, nncf.Dataset([crops[i:i + 1] for i in range(len(crops))]),
                              subset_size=len(crops), fast_bias_correction=True,
                              ignored_scope=nncf.IgnoredScope(names=[convs[0], convs[-1]], patterns=[".*/gc/.*"],
                                                              validate=False))
    quantized.set_rt_info("int8", ["hrgcnet", "precision"])
    quantized.set_rt_info(f"NNCF {nncf.__version__}, {len(crops)} crops of {CALIBRATION_IMAGE.name}",
                          ["hrgcnet", "calibration"])
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=PARTIAL_PREFIX) as tmp:
        tmp_xml = Path(tmp) / out.name
        ov.save_model(quantized, str(tmp_xml), compress_to_fp16=False)
        os.replace(tmp_xml.with_suffix(".bin"), out.with_suffix(".bin"))
        os.replace(tmp_xml, out)
    return out
