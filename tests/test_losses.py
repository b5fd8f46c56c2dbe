import pytest
import torch

from hrgcnet.models.losses import JointsMSELoss


def official_joints_mse(output, target, target_weight):
    """The loop of the official ``lib/core/loss.py`` JointsMSELoss (use_target_weight=True)."""
    criterion = torch.nn.MSELoss(reduction="mean")
    n, k = output.shape[:2]
    pred = output.reshape(n, k, -1).split(1, 1)
    gt = target.reshape(n, k, -1).split(1, 1)
    loss = 0
    for idx in range(k):
        p, g = pred[idx].squeeze(), gt[idx].squeeze()
        w = target_weight[:, idx]
        loss += 0.5 * criterion(p.mul(w), g.mul(w))
    return loss / k


def test_matches_official_loop():
    torch.manual_seed(0)
    out, tgt = torch.randn(4, 17, 16, 12), torch.rand(4, 17, 16, 12)
    w = (torch.rand(4, 17, 1) > 0.3).float() * torch.rand(4, 17, 1)
    ours = JointsMSELoss()(out, tgt, w)
    assert ours.item() == pytest.approx(official_joints_mse(out, tgt, w).item(), rel=1e-6)
    assert JointsMSELoss()(out, tgt, w[..., 0]).item() == pytest.approx(ours.item(), rel=1e-7)


def test_weights_mask_keypoints_and_gradients_flow():
    out = torch.zeros(2, 17, 8, 6, requires_grad=True)
    tgt = torch.rand(2, 17, 8, 6)
    w = torch.zeros(2, 17)
    assert JointsMSELoss()(out, tgt, w).item() == 0.0
    w[:, 3] = 1
    loss = JointsMSELoss()(out, tgt, w)
    loss.backward()
    assert loss.item() == pytest.approx(0.5 * (tgt[:, 3] ** 2).sum().item() / tgt.numel())
    assert out.grad[:, 3].abs().sum() > 0 and out.grad[:, 4].abs().sum() == 0
    assert JointsMSELoss(use_target_weight=False)(out, tgt).item() == pytest.approx(0.5 * (tgt ** 2).mean().item())


def test_low_precision_input_and_errors():
    out = torch.randn(2, 17, 8, 6).bfloat16()
    tgt = torch.rand(2, 17, 8, 6)
    loss = JointsMSELoss()(out, tgt, torch.ones(2, 17))
    assert loss.dtype == torch.float32
    with pytest.raises(ValueError, match="differ"):
        JointsMSELoss()(out, tgt[:, :5], torch.ones(2, 17))
    with pytest.raises(ValueError, match="target_weight"):
        JointsMSELoss()(out, tgt)
