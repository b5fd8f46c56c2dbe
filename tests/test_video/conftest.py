"""Clips for the video tests, made from real photos with known motion (:mod:`hrgcnet.video.synthetic`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hrgcnet.io import load_image
from hrgcnet.video.synthetic import pan_zoom_transforms, render_clip

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def small_photo(path: Path, width: int) -> np.ndarray:
    image = load_image(path)
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="session")
def three_people_clip(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """An 8-frame pan and zoom across ``assets/three_people.jpg`` (320 px wide, 10 fps) and its transforms."""
    image = small_photo(ASSETS / "three_people.jpg", 320)
    transforms = pan_zoom_transforms(image.shape[:2], 8)
    path = tmp_path_factory.mktemp("clips") / "three_people.mp4"
    render_clip(image, transforms, path, fps=10)
    return path, transforms
