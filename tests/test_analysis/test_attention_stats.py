import math

import numpy as np
import pytest
import torch

from hrgcnet.analysis.attention import attention_stats, effective_support, entropy, parse_block_name, summarize_by
from hrgcnet.models import capture_gc_attention, create_model


def test_uniform_and_one_hot_maps():
    uniform = np.full((2, 4, 5), 1 / 20)
    one_hot = np.zeros((4, 5))
    one_hot[1, 2] = 1
    assert np.allclose(entropy(uniform), math.log(20))
    assert entropy(one_hot) == pytest.approx(0.0)
    assert np.allclose(effective_support(uniform, 0.9), 18 / 20)
    assert effective_support(one_hot, 0.9) == pytest.approx(1 / 20)
    half = np.zeros((2, 2))
    half[0] = [0.5, 0.5]
    assert effective_support(half, 1.0) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        effective_support(half, 0.0)


def test_block_names():
    assert parse_block_name("stage1.block3") == {"stage": 1, "module": 0, "branch": 0, "index": 3}
    assert parse_block_name("stage3.module2.branch1.block0") == {"stage": 3, "module": 2, "branch": 1, "index": 0}
    with pytest.raises(ValueError):
        parse_block_name("layer1.0")


def test_stats_of_a_real_forward():
    model = create_model("hrgcnet-w32").eval()
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad(), capture_gc_attention(model) as maps:
        model(x)
    rows = attention_stats(maps)
    assert len(maps) == 36 and len(rows) == 72
    assert {r["h"] for r in rows if r["stage"] == 1} == {32}
    for r in rows:
        assert 0 <= r["entropy_norm"] <= 1 + 1e-6 and 0 < r["support"] <= 1 and r["peak"] >= 1 - 1e-6
    stages = summarize_by(rows, "stage")
    assert [s["stage"] for s in stages] == [1, 2, 3, 4]
    assert [s["blocks"] for s in stages] == [4, 4, 16, 12]
