"""The torchvision shim: pure-torch NMS against a brute-force reference, and when it is registered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrgcnet import compat


def _brute_force_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            x1, y1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            x2, y2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            area_j = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
            if inter / (area_i + area_j - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_pure_nms_matches_brute_force(seed, thr):
    rng = np.random.default_rng(seed)
    n = 60
    xy = rng.uniform(0, 200, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 80, (n, 2))], axis=1)
    scores = rng.permutation(n).astype(np.float64) / n  # distinct scores
    got = compat.nms_pure_torch(torch.tensor(boxes, dtype=torch.float32), torch.tensor(scores), thr)
    assert got.dtype == torch.int64
    assert got.tolist() == _brute_force_nms(boxes.astype(np.float32).astype(np.float64), scores, thr)


def test_pure_nms_edge_cases():
    empty = compat.nms_pure_torch(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.int64
    # IoU exactly 0.5 is kept (suppression needs IoU > threshold); equal scores keep the lower index first
    boxes = torch.tensor([[0.0, 0, 2, 1], [0, 0, 1, 1], [0, 0, 2, 1]])
    assert compat.nms_pure_torch(boxes, torch.tensor([0.9, 0.8, 0.9]), 0.5).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        compat.nms_pure_torch(torch.zeros(3, 5), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="scores"):
        compat.nms_pure_torch(torch.zeros(3, 4), torch.zeros(2), 0.5)


def test_decision_logic():
    assert compat.decide_shim(torchvision_installed=False, compiled_op_available=False) == "unavailable"
    assert compat.decide_shim(torchvision_installed=True, compiled_op_available=True) == "native"
    assert compat.decide_shim(torchvision_installed=True, compiled_op_available=False) == "shim"


def test_nothing_is_registered_when_the_compiled_op_exists(monkeypatch):
    def fail():
        raise AssertionError("must not register over a compiled operator")

    monkeypatch.setattr(compat, "_STATE", None)
    monkeypatch.setattr(compat, "_torchvision_installed", lambda: True)
    monkeypatch.setattr(compat, "compiled_nms_available", lambda: True)
    monkeypatch.setattr(compat, "register_pure_torch_ops", fail)
    monkeypatch.setattr(compat, "_patch_torchvision_nms", fail)
    assert compat.ensure_torchvision_ops() == "native"
    assert compat.ensure_torchvision_ops() == "native"  # remembered


def test_torchvision_imports_and_its_nms_works_after_ensure():
    state = compat.ensure_torchvision_ops()
    assert state in ("native", "shim")
    import torchvision

    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 100, (40, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 60, (40, 2))], axis=1).astype(np.float32)
    scores = rng.permutation(40).astype(np.float32)
    got = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5)
    assert got.tolist() == _brute_force_nms(boxes.astype(np.float64), scores.astype(np.float64), 0.5)
    # batched_nms (used by detection code) goes through the same operator
    idx = torch.zeros(40, dtype=torch.int64)
    assert torchvision.ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), idx, 0.5).tolist() == got.tolist()
    assert compat.ensure_torchvision_ops() == state
    if state == "shim":  # this environment: the operator now comes from hrgcnet.compat
        assert compat._LIBRARY is not None
        assert torch.ops.torchvision.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).tolist() == got.tolist()
