"""Fixtures of the reliability tests: the bad inputs written once, and one small real model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for path in (HERE, REPO):  # bad_inputs.py helpers; `app` is a top-level package of the repository
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bad_inputs import write_files  # noqa: E402

#: Smallest input size the models take (multiples of 32): keeps every network call a few ms.
SMALL_HW = (64, 64)


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory) -> dict:
    """``{kind: (path, outcome)}`` of every file-like bad input (see ``bad_inputs.image_files``)."""
    return write_files(tmp_path_factory.mktemp("bad_inputs"))


@pytest.fixture(scope="session")
def small_estimator():
    """A real, untrained HRGCNet-W32 at 64x64 without flip test, whole-image detector."""
    from hrgcnet.pipeline import PoseEstimator

    return PoseEstimator("hrgcnet-w32", weights=None, device="cpu", detector="full", flip_test=False,
                         input_hw=SMALL_HW, precision="fp32", max_persons=3)
