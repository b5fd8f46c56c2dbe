"""Fixtures of the app tests: the app launched in-process on a free loopback port, real COCO photos
(one person, several persons, nobody) and small, fast settings."""

from __future__ import annotations

import json
import socket
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `app` is a top-level package of the repository, not installed
    sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LaunchedApp:
    url: str
    demo: object
    port: int
    outbound: list  # non-loopback connections attempted while building and launching


class _NoOutbound:
    """Record (and refuse) every connection to a non-loopback address while active."""

    def __init__(self) -> None:
        self.attempts: list = []

    def __enter__(self) -> "_NoOutbound":
        self._connect = socket.socket.connect
        self._connect_ex = socket.socket.connect_ex
        attempts = self.attempts

        def is_loopback(address) -> bool:
            host = address[0] if isinstance(address, tuple) else str(address)
            return (not isinstance(address, tuple) or host in ("localhost", "::1") or host.startswith("127.")
                    or host.startswith("::ffff:127."))

        def connect(sock, address):
            if not is_loopback(address):
                attempts.append(address)
                raise OSError("outbound connection refused by the test")
            return self._connect(sock, address)

        def connect_ex(sock, address):
            if not is_loopback(address):
                attempts.append(address)
                return 111
            return self._connect_ex(sock, address)

        socket.socket.connect = connect
        socket.socket.connect_ex = connect_ex
        return self

    def __exit__(self, *exc) -> None:
        socket.socket.connect = self._connect
        socket.socket.connect_ex = self._connect_ex


@pytest.fixture(scope="session")
def launched_app() -> LaunchedApp:
    """The app built and launched in this process (as ``python -m app`` does), on a free loopback port."""
    with _NoOutbound() as guard:
        from app.ui import build_demo, launch

        demo = build_demo()
        port = free_port()
        launch(demo, host="127.0.0.1", port=port, quiet=True)
    yield LaunchedApp(f"http://127.0.0.1:{port}/", demo, port, guard.attempts)
    demo.close()


@pytest.fixture()
def client(launched_app: LaunchedApp):
    """A fresh ``gradio_client`` session (its own ``gr.State``)."""
    from gradio_client import Client

    return Client(launched_app.url, verbose=False, download_files=True)


@dataclass(frozen=True)
class CocoPhoto:
    path: Path
    image_id: int
    boxes_xyxy: list  # non-crowd person boxes of the annotation file


@pytest.fixture(scope="session")
def coco_photos(coco_val) -> dict[str, CocoPhoto]:
    """Real photos from ``shared/data/coco/val.json``: ``one`` (exactly one person), ``several`` (at least
    three persons) and ``nobody`` (no person annotation), each the lowest image id of its kind."""
    ann_file, image_dir = coco_val
    data = json.loads(ann_file.read_text())
    persons = Counter()
    boxes: dict[int, list] = {}
    for a in data["annotations"]:
        if a.get("category_id", 1) == 1 and not a.get("iscrowd"):
            persons[a["image_id"]] += 1
            x, y, w, h = a["bbox"]
            boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    crowd = {a["image_id"] for a in data["annotations"] if a.get("iscrowd")}
    images = {img["id"]: img for img in data["images"]}
    picks = {
        "one": min(i for i in images if persons[i] == 1 and i not in crowd),
        "several": min(i for i in images if persons[i] >= 3 and i not in crowd),
        "nobody": min(i for i in images if persons[i] == 0 and i not in crowd),
    }
    return {kind: CocoPhoto(image_dir / images[i]["file_name"], i, boxes.get(i, [])) for kind, i in picks.items()}
