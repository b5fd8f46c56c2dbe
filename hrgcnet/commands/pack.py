"""``hrgcnet pack``: the training data of a config as per-person crops, small enough to travel with the code.

``hrgcnet pack --config hrgcnet_w32_128x96_cpu --out .pack`` writes ``.pack/<i>-<folder>/`` (a COCO keypoint
file and its crops, :mod:`hrgcnet.data.pack`) for each ``train_data`` file, and ``.pack/config.yaml``: the same
config reading the packed files, with ``val_ann: null`` (validation images are not packed: score the weights
afterwards with ``hrgcnet eval``). ``hrgcnet train --config .pack/config.yaml`` then trains without
``../shared/data``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pack", help="pack a config's training data into per-person crops (to train on another machine)",
        description="Cut every trainable person out of the config's train_data files, with the margin that the "
                    "scale and rotation augmentation can reach, and write them as small COCO keypoint files plus "
                    "a config.yaml that trains on them.")
    p.add_argument("--config", default=None, metavar="NAME_OR_YAML", help="bundled config name or a YAML file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key before packing (e.g. input_size=256x192)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must be empty or absent)")
    p.add_argument("--density", type=float, default=1.0,
                   help="packed pixels per pixel of an unaugmented training crop (default 1.0; less is smaller "
                        "and blurrier)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality 1-100 (default 90)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from ..config import load_config
    from ..data.pack import pack_keypoint_file

    config = load_config(args.config, args.overrides)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out} is not empty; give a new folder")
    packed, total_bytes = [], 0
    for i, spec in enumerate(config.train_data):
        folder = out / f"{i}-{Path(spec.ann).parent.name}"
        stats = pack_keypoint_file(spec, folder, config.input_hw, config.augment, args.density, args.quality,
                                   progress=not args.no_progress)
        total_bytes += stats.jpeg_bytes + stats.ann.stat().st_size
        print(f"{spec.ann}: {stats.persons} persons, {stats.jpeg_bytes / 2**20:.1f} MiB of JPEG -> {stats.ann}")
        packed.append(dataclasses.replace(spec, ann=str(stats.ann), images=None))
    config = dataclasses.replace(config, train_data=packed, val_ann=None, val_images=None)
    (out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    print(f"wrote {out / 'config.yaml'}; {total_bytes / 2**20:.1f} MiB in all")
    return 0
