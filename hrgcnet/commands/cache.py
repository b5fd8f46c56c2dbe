"""``hrgcnet cache``: what the OpenVINO backend's cache holds, and removing it (:mod:`hrgcnet.backends.cache`)."""

from __future__ import annotations

import argparse
import time


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cache", help="list or empty the OpenVINO export cache",
        description="Lists the exported networks and OpenVINO's compiled blobs in $HRGCNET_CACHE/openvino (default "
                    "~/.cache/hrgcnet/openvino), least recently used first, with their sizes. Nothing evicts them by "
                    "itself; whatever is removed is exported (tens of seconds) or compiled (10-13 s) again on next use.")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--unused-for", type=float, default=None, metavar="DAYS",
                      help="remove the entries not used for DAYS days")
    what.add_argument("--clear", action="store_true", help="remove everything in the cache")
    p.add_argument("--dry-run", action="store_true", help="say what --unused-for or --clear would remove, remove nothing")
    p.set_defaults(func=run)


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def _line(entry, root) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used))
    return f"{when}  {_mb(entry.size):>11}  {entry.kind:8s}  {entry.path.relative_to(root)}"


def run(args: argparse.Namespace) -> int:
    from ..backends.cache import cache_entries, remove_entries, unused_for
    from ..backends.openvino import cache_dir
    from ..errors import UsageError

    if args.unused_for is not None and args.unused_for < 0:
        raise UsageError(f"--unused-for takes a number of days >= 0, got {args.unused_for:g}")
    if args.dry_run and not (args.clear or args.unused_for is not None):
        raise UsageError("--dry-run goes with --unused-for DAYS or --clear")
    root = cache_dir()
    entries = cache_entries(root)
    if args.clear or args.unused_for is not None:
        if args.clear:  # but an unfinished export of the last hour, which may be in progress in another process
            hour_old = unused_for(entries, 1 / 24)
            chosen = [e for e in entries if e.kind != "partial" or e in hour_old]
        else:
            chosen = unused_for(entries, args.unused_for)
        verb = "would remove" if args.dry_run else "removed"
        for entry in chosen:
            print(f"{verb}  {_line(entry, root)}")
        freed = sum(e.size for e in chosen) if args.dry_run else remove_entries(chosen)
        print(f"{verb} {len(chosen)} of {len(entries)} entries, {_mb(freed)}, from {root}")
        return 0
    if not entries:
        print(f"{root}: empty")
        return 0
    for entry in entries:
        print(_line(entry, root))
    labels = {"export": "export", "compiled": "compiled blob", "partial": "unfinished export"}
    sizes = {kind: [e.size for e in entries if e.kind == kind] for kind in labels}
    parts = [f"{len(v)} {labels[k]}{'' if len(v) == 1 else 's'} ({_mb(sum(v))})" for k, v in sizes.items() if v]
    print(f"{root}: {', '.join(parts)}; {_mb(sum(e.size for e in entries))} in all")
    return 0
