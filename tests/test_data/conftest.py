"""Fixtures of the data tests: the shared COCO-format files (skipped when ../shared/data is absent)."""

from __future__ import annotations

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
def small_coco(coco_subset) -> tuple[Path, Path]:
    """``(annotation file, image folder)``: three unstretched COCO train images with well-labelled persons."""
    return coco_subset(3, min_keypoints=12)
