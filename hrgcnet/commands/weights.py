"""``hrgcnet weights``: list and download the official HRNet COCO checkpoints (online)."""

from __future__ import annotations

import argparse

from ..models.download import OFFICIAL_WEIGHTS, cached_path, download_official


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("weights", help="list / download official HRNet COCO weights")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="official weights and whether they are cached").set_defaults(func=run_list)
    d = sub.add_parser("download", help="download, verify (hash prefix), convert and cache")
    d.add_argument("weights_id", choices=list(OFFICIAL_WEIGHTS), metavar="ID", help=", ".join(OFFICIAL_WEIGHTS))
    d.add_argument("--timeout", type=float, default=20.0, help="network timeout in seconds")
    d.set_defaults(func=run_download)


def run_list(args: argparse.Namespace) -> int:
    for wid, entry in OFFICIAL_WEIGHTS.items():
        state = f"cached at {cached_path(wid)}" if cached_path(wid).is_file() else "not downloaded"
        print(f"{wid:<24} {entry.model} {entry.input_size}  mmpose AP {entry.ap:.3f}  {state}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    path = download_official(args.weights_id, timeout=args.timeout)
    print(f"{args.weights_id}: {path}\nuse it with: hrgcnet predict IMAGE --model {OFFICIAL_WEIGHTS[args.weights_id].model} --weights {path}")
    return 0
