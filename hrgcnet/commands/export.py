"""``hrgcnet export``: a pose network as ONNX or OpenVINO IR, with its weights' metadata (see
:mod:`hrgcnet.backends.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export a pose network as ONNX or OpenVINO IR (BatchNorm folded, dynamic batch)",
        description="Writes OUT/MODEL-HxW.onnx or OUT/MODEL-HxW.xml (+ .bin): input (B, 3, H, W) float32 RGB "
                    "crops normalised as the metadata says, output (B, 17, H/4, W/4) heatmaps. The metadata holds "
                    "the model, input size, normalisation and the weights' own metadata (training summary).")
    p.add_argument("--model", required=True, help="model name (see `hrgcnet models`)")
    p.add_argument("--weights", default="default",
                   help="weights file; default: the model's committed weights (required: an untrained network is "
                        "not exported)")
    p.add_argument("--input-size", default=None, help="crop size HxW (default: the weights' training size)")
    p.add_argument("--format", required=True, choices=("onnx", "openvino"))
    p.add_argument("--int8", action="store_true",
                   help="with --format openvino: also write MODEL-HxW-int8.xml, quantized by NNCF (calibrated on the "
                        "example photo's persons; faster on CPUs with VNNI, but below the accuracy guard: "
                        "docs/inference-speed.md)")
    p.add_argument("--out", default="exports", help="output folder (default exports/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..backends.export import export_metadata, export_onnx, export_openvino
    from ..errors import UsageError
    from ..models import create_model
    from ..models.weights import default_weights_path, read_metadata
    from ..pipeline import parse_input_hw, weights_input_hw

    if args.int8 and args.format != "openvino":
        raise UsageError("--int8 goes with --format openvino")
    weights = default_weights_path(args.model) if args.weights == "default" else Path(args.weights)
    if weights is None:
        raise UsageError(f"{args.model} has no committed weights; pass --weights PATH")
    model = create_model(args.model, weights=weights).eval()
    input_hw = parse_input_hw(args.input_size or weights_input_hw(weights) or "256x192")
    meta = export_metadata(args.model, input_hw, read_metadata(weights) if weights.suffix == ".safetensors" else None)
    name = f"{args.model}-{input_hw[0]}x{input_hw[1]}"
    out = Path(args.out)
    if args.format == "onnx":
        path = export_onnx(model, out / f"{name}.onnx", input_hw, meta)
    else:
        path = export_openvino(model, out / f"{name}.xml", input_hw, meta)
    print(f"wrote {path}" + (f" and {path.with_suffix('.bin')}" if args.format == "openvino" else ""))
    if args.int8:
        from ..backends.int8 import calibration_crops, quantize_ir

        path = quantize_ir(path, out / f"{name}-int8.xml", calibration_crops(input_hw))
        print(f"wrote {path} and {path.with_suffix('.bin')} (int8)")
    return 0
