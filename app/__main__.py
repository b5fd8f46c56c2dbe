"""``python -m app [--host 127.0.0.1] [--port 7860]``: launch the Gradio app (env ``PORT`` honoured)."""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env_port = os.environ.get("PORT", "").strip()
    parser = argparse.ArgumentParser(prog="python -m app", description="HRGCNet pose estimation web app (Gradio)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=int(env_port) if env_port.isdigit() else DEFAULT_PORT,
                        help=f"port (default: $PORT if set, else {DEFAULT_PORT})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from app.ui import build_demo, launch  # imports gradio after app/__init__ turned analytics off

    demo = build_demo()
    launch(demo, host=args.host, port=args.port, block=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
