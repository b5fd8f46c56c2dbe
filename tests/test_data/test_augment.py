import numpy as np
import pytest

from hrgcnet.data import AugmentConfig, flip_keypoints, half_body_center_scale, sample_scale_rotation
from hrgcnet.structures import FLIP_PAIRS, PIXEL_STD


def test_flip_keypoints_mirrors_and_swaps():
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, (17, 2))
    w = rng.uniform(0, 1, 17).astype(np.float32)
    f, fw = flip_keypoints(kp, w, image_width=120)
    for a, b in FLIP_PAIRS:
        assert f[a, 0] == pytest.approx(120 - kp[b, 0] - 1) and f[a, 1] == kp[b, 1]
        assert fw[a] == w[b]
    assert f[0, 0] == pytest.approx(119 - kp[0, 0])
    back, bw = flip_keypoints(f, fw, image_width=120)
    assert np.allclose(back, kp) and np.array_equal(bw, w)


def test_half_body_box():
    rng = np.random.default_rng(1)
    kp = np.zeros((17, 2))
    kp[:, 0] = np.linspace(100, 200, 17)
    kp[:, 1] = np.linspace(50, 450, 17)
    w = np.ones(17, np.float32)
    aspect = 192 / 256
    for _ in range(20):
        center, scale = half_body_center_scale(kp, w, aspect, 1.5, rng)
        wh = scale * PIXEL_STD / 1.5
        assert wh[0] / wh[1] == pytest.approx(aspect)
        upper = np.abs(center[1] - kp[:11, 1].mean()) < 1e-6
        lower = np.abs(center[1] - kp[11:, 1].mean()) < 1e-6
        assert upper or lower
        sel = kp[:11] if upper else kp[11:]
        assert np.all(np.abs(sel - center) <= wh / 2 + 1e-6)  # the box holds the selected keypoints
    one = np.zeros(17, np.float32)
    one[0] = 1
    assert half_body_center_scale(kp, one, aspect, 1.5, rng) is None


def test_scale_and_rotation_ranges():
    cfg = AugmentConfig()
    rng = np.random.default_rng(2)
    draws = np.array([sample_scale_rotation(cfg, rng) for _ in range(4000)])
    s, r = draws[:, 0], draws[:, 1]
    assert s.min() >= 0.65 and s.max() <= 1.35 and s.std() == pytest.approx(0.3, abs=0.05)
    assert np.abs(r).max() <= 45.0
    assert (r == 0).mean() == pytest.approx(0.4, abs=0.03)  # rotation applied with p 0.6
    assert (np.abs(r) == 45).mean() > 0.05  # clipped at +-45 degrees (the paper), not +-90
