"""``hrgcnet weights``: list and download the official HRNet COCO checkpoints (online)."""

from __future__ import annotations

import argparse

from ..models.download import OFFICIAL_WEIGHTS, cached_path, download_official, is_cached


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("weights", help="list / download official HRNet COCO weights")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="official weights and whether they are cached").set_defaults(func=run_list)
    d = sub.add_parser("download", help="download, verify (hash prefix), convert and cache")
    d.add_argument("weights_id", choices=list(OFFICIAL_WEIGHTS), metavar="ID", help=", ".join(OFFICIAL_WEIGHTS))
    d.add_argument("--timeout", type=float, default=20.0, help="network timeout in seconds")
    d.set_defaults(func=run_download)
    e = sub.add_parser("export", help="write trained weights as compact safetensors (the committed default weights)",
                       description="Loads SOURCE strictly into MODEL (so the file fits the architecture) and writes it "
                                   "with SOURCE's metadata, by default to hrgcnet/weights/MODEL.safetensors.")
    e.add_argument("source", help="weights file, e.g. runs/NAME/best.safetensors")
    e.add_argument("--model", required=True, help="model name (see `hrgcnet models`)")
    e.add_argument("--dtype", choices=["fp16", "int8"], default="fp16",
                   help="fp16, or int8 per output channel for conv/linear weights (half the size; check its AP)")
    e.add_argument("--out", help="output path (default: the committed weights of MODEL)")
    e.add_argument("--note", help="one line on what to expect of these weights, stored in the metadata and shown "
                                  "with them (e.g. in the app's model card)")
    e.set_defaults(func=run_export)


def run_list(args: argparse.Namespace) -> int:
    for wid, entry in OFFICIAL_WEIGHTS.items():
        path = cached_path(wid)
        state = (f"cached at {path}" if is_cached(wid) else
                 f"incomplete file at {path} (download again)" if path.is_file() else "not downloaded")
        print(f"{wid:<24} {entry.model} {entry.input_size}  mmpose AP {entry.ap:.3f}  {state}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    path = download_official(args.weights_id, timeout=args.timeout)
    print(f"{args.weights_id}: {path}\nuse it with: hrgcnet predict IMAGE --model {OFFICIAL_WEIGHTS[args.weights_id].model} --weights {path}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    import torch

    from ..analysis.curves import weights_samples_seen
    from ..models.registry import create_model
    from ..models.weights import WEIGHTS_DIR, load_weights, save_weights

    _, meta = load_weights(args.source)
    model = create_model(args.model, weights=args.source)  # strict: names missing / unexpected keys
    out = args.out or WEIGHTS_DIR / f"{args.model}.safetensors"
    meta = {**{k: v for k, v in meta.items() if k != "weights_format"}, "model": args.model,
            "exported_from": str(args.source), **({"note": args.note} if args.note else {})}
    seen = weights_samples_seen(args.source, meta)
    if seen is not None:
        meta["samples_seen"] = seen
    path = save_weights(model, out, metadata=meta, dtype=torch.int8 if args.dtype == "int8" else torch.float16)
    print(f"{args.model}: wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, {args.dtype}); "
          f"measure it with: hrgcnet eval --ann ../shared/data/coco/val.json --model {args.model} --weights {path}")
    return 0
