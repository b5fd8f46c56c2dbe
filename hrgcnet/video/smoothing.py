"""One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for keypoint trajectories.

A first-order low-pass filter whose cutoff rises with speed: still keypoints are smoothed hard (little
jitter), moving ones lightly (little lag)::

    a(fc, dt) = 1 / (1 + 1 / (2 pi fc dt))
    dx_hat    = a(d_cutoff, dt) * (x - x_hat_prev) / dt + (1 - a(d_cutoff, dt)) * dx_hat_prev
    fc        = min_cutoff + beta * |dx_hat| / size
    x_hat     = a(fc, dt) * x + (1 - a(fc, dt)) * x_hat_prev

One change to the paper: the speed is divided by the person's size (box height, pixels), so ``beta`` is in
seconds per person height and the same parameters suit a small and a large person, or any video resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """Filter parameters.

    Attributes:
        min_cutoff: cutoff frequency (Hz) of a still keypoint; lower smooths more.
        beta: how fast the cutoff rises with speed (per person height per second); higher lags less.
        d_cutoff: cutoff frequency (Hz) of the speed estimate.
    """

    min_cutoff: float = 1.0
    beta: float = 1.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        from ..errors import UsageError

        if not (self.min_cutoff > 0 and self.d_cutoff > 0 and self.beta >= 0):
            raise UsageError(f"One-Euro parameters must be min_cutoff > 0, d_cutoff > 0, beta >= 0; got {self}")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    return 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * dt))


class OneEuroFilter:
    """One-Euro filter over an array of values (e.g. ``(K, 2)`` keypoint x, y of one person).

    The first call returns its input; a call at a time not after the previous one returns the last output.
    """

    def __init__(self, params: OneEuroParams = OneEuroParams()) -> None:
        self.params = params
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    def __call__(self, x: np.ndarray, t: float, size: float = 1.0) -> np.ndarray:
        """Filtered ``x`` at time ``t`` (seconds); ``size`` divides the speed (see the module docstring)."""
        x = np.asarray(x, dtype=np.float64)
        if self.x is None or self.t is None:
            self.x, self.dx, self.t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        if t <= self.t:  # no time has passed: nothing to filter
            return self.x.copy()
        p, dt = self.params, t - self.t
        a_d = _alpha(p.d_cutoff, dt)
        self.dx = a_d * (x - self.x) / dt + (1 - a_d) * self.dx
        cutoff = p.min_cutoff + p.beta * np.abs(self.dx) / max(float(size), 1e-6)
        a = _alpha(cutoff, dt)
        self.x = a * x + (1 - a) * self.x
        self.t = t
        return self.x.copy()
