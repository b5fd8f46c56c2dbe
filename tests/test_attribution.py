"""hrgcnet.analysis.attribution: captum attributions of one keypoint's heatmap peak, bounded in time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hrgcnet.analysis import attribution
from hrgcnet.analysis.attribution import attribute_keypoint, crop_to_tensor, person_crop
from hrgcnet.errors import UsageError
from hrgcnet.models import create_model
from hrgcnet.pipeline import PoseEstimator

pytest.importorskip("captum")


class LinearPose(nn.Module):
    """A linear stand-in ``(N, 3, H, W) -> (N, 17, H/4, W/4)``: Integrated Gradients is exact for it."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 17, kernel_size=1)
        self.pool = nn.AvgPool2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


def crop(h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_integrated_gradients_is_complete_on_a_linear_model():
    model = LinearPose()
    c = crop()
    res = attribute_keypoint(model, c, keypoint=9, method="integrated_gradients", n_steps=4, internal_batch_size=2,
                             time_budget_s=60)
    assert res.method == "integrated_gradients" and res.n_steps == 4 and res.notes == []
    assert res.attribution.shape == (3, 64, 64) and res.magnitude.shape == (64, 64)
    assert 0.0 <= res.magnitude.min() and res.magnitude.max() == pytest.approx(1.0)
    px, py = res.peak_xy
    with torch.no_grad():
        heat = model(crop_to_tensor(c))[0, 9]
        baseline = model(crop_to_tensor(np.zeros_like(c)))[0, 9, py, px]
    assert float(heat[py, px]) == pytest.approx(float(heat.max()))  # the target is the peak
    completeness = float(heat[py, px] - baseline)  # IG sums to f(x) - f(baseline)
    assert res.attribution.sum() == pytest.approx(completeness, rel=1e-3, abs=1e-4)


def test_saliency_on_a_real_model_with_progress():
    model = create_model("hrgcnet-w32").train()
    seen = []
    res = attribute_keypoint(model, crop(), keypoint=0, method="saliency",
                             progress=lambda f, msg: seen.append((f, msg)))
    assert res.method == "saliency" and res.n_steps == 1
    assert 0 <= res.peak_xy[0] < 16 and 0 <= res.peak_xy[1] < 16
    assert np.isfinite(res.attribution).all() and res.magnitude.max() == pytest.approx(1.0)
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert model.training  # mode restored


class FakeClock:
    """``time.perf_counter`` that advances one second per call."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def test_steps_are_cut_to_the_time_budget(monkeypatch):
    monkeypatch.setattr(attribution.time, "perf_counter", FakeClock())  # the first forward "takes" 1 s
    res = attribute_keypoint(LinearPose(), crop(), keypoint=3, n_steps=8, time_budget_s=10)
    # 1 s per forward, 3 s per path point: (10 - 1) // 3 = 3 points fit
    assert res.method == "integrated_gradients" and res.n_steps == 3
    assert "reduced from 8 to 3" in res.notes[0]
    res = attribute_keypoint(LinearPose(), crop(), keypoint=3, n_steps=8, time_budget_s=2)
    assert res.method == "saliency" and "Saliency was used instead" in res.notes[0]


def test_bad_arguments():
    model = LinearPose()
    with pytest.raises(UsageError, match="unknown attribution method"):
        attribute_keypoint(model, crop(), 0, method="gradcam")
    with pytest.raises(UsageError, match="keypoint must be in 0..16"):
        attribute_keypoint(model, crop(), 17)
    with pytest.raises(UsageError, match="uint8 RGB"):
        attribute_keypoint(model, crop().astype(np.float32), 0)


def test_person_crop_is_the_pipelines_crop():
    image = np.random.default_rng(3).integers(0, 256, size=(120, 200, 3), dtype=np.uint8)
    box = np.array([30.0, 10.0, 90.0, 110.0])
    est = PoseEstimator.from_model(LinearPose(), input_hw=(64, 64), detector="full")
    crops, _, _ = est.crops(image, box[None])
    assert np.array_equal(person_crop(image, box, (64, 64)), crops[0])
