"""The ``hrgcnet`` console script.

Each sub-command lives in its own module under :mod:`hrgcnet.commands` exposing
``add_parser(subparsers)`` (which registers the parser and sets ``func``) and is imported lazily, so
``hrgcnet models`` does not pay for importing the training or app stack.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import HRGCNetError

#: sub-command -> module under hrgcnet.commands
COMMANDS: dict[str, str] = {
    "models": "models",
    "profile": "profile",
    "predict": "predict",
    "train": "train",
    "eval": "evaluate",
    "eval-boxes": "eval_boxes",
    "curves": "curves",
    "bench": "bench",
    "weights": "weights",
    "export": "export",
    "cache": "cache",
    "pack": "pack",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrgcnet", description="HRNet / HRGCNet human pose estimation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=f"(see `hrgcnet {name} --help`)", add_help=False)
            continue
        try:
            mod = importlib.import_module(f"hrgcnet.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hrgcnet.commands.{module}":
                raise
            continue  # command not implemented in this build
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the module of the command asked for; the full parser is built for --help.
    only = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(only).parse_args(argv)
    try:
        result = args.func(args)
    except HRGCNetError as exc:
        print(f"hrgcnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
