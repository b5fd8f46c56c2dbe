"""The One-Euro filter: less jitter on still keypoints, little lag on moving ones."""

from __future__ import annotations

import numpy as np
import pytest

from hrgcnet.errors import UsageError
from hrgcnet.video import OneEuroFilter, OneEuroParams


def _run(filt: OneEuroFilter, values: np.ndarray, fps: float, size: float = 100.0) -> np.ndarray:
    return np.stack([filt(v, i / fps, size=size) for i, v in enumerate(values)])


def test_still_point_with_noise_is_smoothed():
    rng = np.random.default_rng(0)
    noisy = 50.0 + rng.normal(0, 2.0, (100, 17, 2))
    out = _run(OneEuroFilter(), noisy, fps=25)
    raw_jitter = np.abs(np.diff(noisy, axis=0)).mean()
    assert np.abs(np.diff(out, axis=0)).mean() < 0.35 * raw_jitter
    assert abs(out[20:].mean() - 50.0) < 0.5  # no bias


def test_fast_motion_lags_less_with_beta():
    t = np.arange(50)
    ramp = (t * 8.0)[:, None]  # 200 px/s at 25 fps: two person heights (100 px) per second
    lag = {beta: float(np.abs(_run(OneEuroFilter(OneEuroParams(beta=beta)), ramp, fps=25) - ramp)[-10:].mean())
           for beta in (0.0, 1.0)}
    assert lag[1.0] < 0.5 * lag[0.0]


def test_first_value_passes_and_time_must_advance():
    filt = OneEuroFilter()
    first = filt(np.array([1.0, 2.0]), 0.0)
    assert np.array_equal(first, [1.0, 2.0])
    assert np.array_equal(filt(np.array([9.0, 9.0]), 0.0), [1.0, 2.0])  # no time passed: the last output
    moved = filt(np.array([9.0, 9.0]), 0.04)
    assert np.all((moved > [1.0, 2.0]) & (moved < 9.0))


def test_speed_is_measured_in_person_heights():
    """The same motion relative to the person's size is filtered alike at any resolution."""
    t = np.arange(30)
    small = _run(OneEuroFilter(), (t * 2.0)[:, None], fps=25, size=50.0)
    large = _run(OneEuroFilter(), (t * 8.0)[:, None], fps=25, size=200.0)
    assert np.allclose(large, 4 * small)


@pytest.mark.parametrize("kw", [dict(min_cutoff=0), dict(beta=-1), dict(d_cutoff=0)])
def test_bad_parameters(kw):
    with pytest.raises(UsageError):
        OneEuroParams(**kw)
