"""Exponential moving average (EMA) of a model's weights, for training.

After each optimiser step every floating-point tensor of the state dict (parameters and BatchNorm running
statistics) moves towards the trained model's: ``ema = decay * ema + (1 - decay) * model``; integer buffers
(``num_batches_tracked``) are copied. Averaging the recent weights smooths the noise of a high learning rate
without tying the schedule to a run's length: a run can go on at a constant rate across sessions and have
averaged weights to validate and export at any step. (The same idea as timm's ``ModelEmaV2`` and the EMA hooks
of mmpose and ultralytics.) How much it gives is measured, not assumed: in session 7's runs
(``docs/training/README.md``) it was -0.005 to +0.041 AP over the trained weights, below an annealed schedule.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    """A frozen copy of ``model`` (in eval mode) whose weights follow the model's with ``decay`` per update.

    Args:
        model: the trained module (unwrapped from DDP); the average starts from its current weights.
        decay: in [0, 1); the average's horizon is about ``1 / (1 - decay)`` updates (0.998: 500).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step towards ``model``'s current weights."""
        pairs = list(zip(self.module.state_dict().values(), model.state_dict().values()))
        floats = [(e, t) for e, t in pairs if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [t.to(e.dtype) for e, t in floats], 1.0 - self.decay)
        for e, t in pairs:
            if not e.is_floating_point():
                e.copy_(t)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state_dict)
