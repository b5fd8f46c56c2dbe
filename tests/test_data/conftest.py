"""Fixtures of the data tests: the shared COCO-format files (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def coco_train(shared_data: Path) -> Path:
    return shared_data / "coco" / "train.json"


@pytest.fixture(scope="session")
def lspet_train(shared_data: Path) -> Path:
    path = shared_data / "lspet" / "train.json"
    if not path.is_file():
        pytest.skip("lspet/train.json not in the shared data")
    return path


@pytest.fixture(scope="session")
def small_coco(shared_data: Path, tmp_path_factory) -> tuple[Path, Path]:
    """``(annotation file, image folder)``: three unstretched COCO train images with well-labelled persons."""
    data = json.loads((shared_data / "coco" / "train.json").read_text())
    keep = []
    for img in data["images"]:
        anns = [a for a in data["annotations"] if a["image_id"] == img["id"]]
        if not img.get("stretched") and any(a["num_keypoints"] >= 12 and not a["iscrowd"] for a in anns):
            keep.append(img)
        if len(keep) == 3:
            break
    ids = {img["id"] for img in keep}
    data["images"] = keep
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    path = tmp_path_factory.mktemp("small_coco") / "train.json"
    path.write_text(json.dumps(data))
    return path, shared_data / "coco" / "images"
