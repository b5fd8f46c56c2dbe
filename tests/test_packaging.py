"""The installed package works from any folder (not only from the checkout's root)."""

import json
import subprocess
import sys

import hrgcnet


def test_console_entry_point_from_another_folder(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hrgcnet", "models", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "hrgcnet-w32" in {row["model"] for row in json.loads(out)}


def test_lazy_top_level_names():
    assert hrgcnet.__file__ is not None  # a regular package, not a namespace
    assert hrgcnet.PoseEstimator.__name__ == "PoseEstimator"
    assert callable(hrgcnet.create_model) and "hrnet-w32" in hrgcnet.list_models()
