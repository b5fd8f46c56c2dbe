import pytest
import torch
from torch import nn

from hrgcnet.engine.ema import ModelEma


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_update_moves_every_float_tensor_towards_the_model_and_copies_integer_buffers():
    model = _net()
    ema = ModelEma(model, decay=0.75)
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.train()(torch.randn(2, 3, 8, 8))  # BN running stats and num_batches_tracked change
    ema.update(model)
    current = model.state_dict()
    for key, value in ema.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.75 * before[key] + 0.25 * current[key])
        else:
            assert torch.equal(value, current[key]) and int(value) == 1
    assert all(not p.requires_grad for p in ema.module.parameters()) and not ema.module.training


def test_the_average_is_a_copy_and_round_trips_through_its_state_dict():
    model = _net()
    ema = ModelEma(model, decay=0.5)
    with torch.no_grad():
        model[0].weight.zero_()
    assert ema.module[0].weight.abs().sum() > 0  # not shared with the model
    other = ModelEma(_net(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), ema.state_dict().values()))


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        ModelEma(_net(), decay)
