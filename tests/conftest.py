"""Shared fixtures. Network-reaching libraries are told to stay offline before anything imports them."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
# Estimators run the torch network unless a test asks for a backend: "auto" would export every network it meets
# to OpenVINO (tens of seconds each); tests/test_backends runs the OpenVINO path on the committed weights.
os.environ.setdefault("HRGCNET_BACKEND", "torch")

import json  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# One intra-op thread: the suite runs app servers and subprocesses beside the tests, and on 2 cores
# oversubscribed OpenMP threads are many times slower than one thread each.
torch.set_num_threads(int(os.environ.get("HRGCNET_TEST_THREADS", "1")))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def _main_module_back():
    """Streamlit's AppTest leaves ``sys.modules["__main__"]`` set to the last page it ran; a later test that
    starts a process the spawn way (training's loader workers come from a forkserver) would run that page in it."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests that need it skip cleanly when it is absent."""
    if not (SHARED_DATA / "coco" / "val.json").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def coco_val(shared_data: Path) -> tuple[Path, Path]:
    """``(annotation file, image folder)`` of the COCO val split."""
    return shared_data / "coco" / "val.json", shared_data / "coco" / "images"


@pytest.fixture(scope="session")
def coco_subset(shared_data: Path, tmp_path_factory):
    """``make(num_images, min_keypoints=0) -> (annotation file, image folder)``: a small COCO-train subset."""
    def make(num_images: int, min_keypoints: int = 0) -> tuple[Path, Path]:
        dest = tmp_path_factory.mktemp("coco_subset") / "train.json"
        write_coco_subset(shared_data / "coco" / "train.json", dest, num_images, min_keypoints)
        return dest, shared_data / "coco" / "images"
    return make


def write_coco_subset(src: Path, dest: Path, num_images: int, min_keypoints: int = 0) -> Path:
    """Write the first ``num_images`` unstretched images of COCO file ``src`` that hold a non-crowd person with
    at least ``min_keypoints`` labelled keypoints (with all their annotations) to ``dest``; returns ``dest``."""
    data = json.loads(src.read_text())
    good = {a["image_id"] for a in data["annotations"] if not a["iscrowd"] and a["num_keypoints"] >= min_keypoints}
    keep = [img for img in data["images"] if not img.get("stretched") and img["id"] in good][:num_images]
    ids = {img["id"] for img in keep}
    data["images"] = keep
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    dest.write_text(json.dumps(data))
    return dest


@pytest.fixture
def disk_full(monkeypatch):
    """``disk_full(folder)``: from then on ``Path.write_text`` into ``folder`` writes 10 characters and fails with
    ENOSPC, like a disk that fills up midway through a write."""
    real_write_text = Path.write_text

    def arm(folder: Path) -> None:
        def write_text(self, text, *args, **kwargs):
            if self.parent == folder:
                real_write_text(self, text[:10], *args, **kwargs)
                raise OSError(28, "No space left on device")
            return real_write_text(self, text, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)

    return arm
