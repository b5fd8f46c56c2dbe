"""Flip test: flip back with FLIP_INDICES, the official one-pixel shift, symmetry of the merged heatmaps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrgcnet.codecs import get_heatmap_maximum
from hrgcnet.models.tta import flip_back, flip_test, merge_flip_heatmaps, shift_heatmaps
from hrgcnet.structures import FLIP_INDICES, KEYPOINT_NAMES


def test_flip_back_mirrors_x_and_swaps_left_right_channels():
    hm = torch.zeros(1, 17, 8, 6)
    left_eye, right_eye = KEYPOINT_NAMES.index("left_eye"), KEYPOINT_NAMES.index("right_eye")
    hm[0, left_eye, 3, 1] = 1.0   # in the flipped crop, the person's left eye is at x = 1
    hm[0, 0, 2, 0] = 1.0          # nose at x = 0
    back = flip_back(hm)
    assert back[0, right_eye, 3, 4] == 1.0 and back[0, right_eye].sum() == 1.0   # x = 6 - 1 - 1
    assert back[0, 0, 2, 5] == 1.0 and back[0, 0].sum() == 1.0
    assert back[0, left_eye].sum() == 0.0


def test_flip_back_is_an_involution():
    hm = torch.randn(2, 17, 8, 6)
    torch.testing.assert_close(flip_back(flip_back(hm)), hm, rtol=0, atol=0)


def test_shift_moves_columns_right_and_keeps_column_zero_like_the_official_code():
    hm = torch.arange(12.0).reshape(1, 1, 2, 6)
    out = shift_heatmaps(hm)
    torch.testing.assert_close(out, torch.tensor([[[[0.0, 0, 1, 2, 3, 4], [6, 6, 7, 8, 9, 10]]]]))
    assert hm[0, 0, 0, 1] == 1  # input unchanged


def test_merge_is_the_average_with_the_shifted_flipped_back_maps():
    a, b = torch.randn(2, 17, 8, 6), torch.randn(2, 17, 8, 6)
    torch.testing.assert_close(merge_flip_heatmaps(a, b), (a + shift_heatmaps(flip_back(b))) / 2)
    torch.testing.assert_close(merge_flip_heatmaps(a, b, shift=False), (a + flip_back(b)) / 2)
    with pytest.raises(ValueError, match="shape mismatch"):
        merge_flip_heatmaps(a, b[:1])
    with pytest.raises(ValueError, match="flip indices"):
        flip_back(torch.zeros(1, 5, 4, 4))


def _forward(model):
    def run(x):
        with torch.inference_mode():
            return model(x)
    return run



@pytest.fixture(scope="module")
def model():
    from hrgcnet.models import create_model

    torch.manual_seed(0)
    return create_model("hrgcnet-w32").eval()


def test_flip_test_without_shift_is_mirror_equivariant(model):
    """flip_test(mirror(x)) == flip_back(flip_test(x)) for any network when the shift is off."""
    torch.manual_seed(1)
    x = torch.randn(2, 3, 128, 96)
    fwd = _forward(model)
    a = flip_test(fwd, x, shift=False)
    b = flip_test(fwd, x.flip(-1), shift=False)
    torch.testing.assert_close(b, flip_back(a), rtol=1e-4, atol=1e-3 * float(a.abs().max()))


def test_symmetric_input_gives_mirrored_keypoints(model):
    torch.manual_seed(2)
    half = torch.randn(1, 3, 128, 48)
    x = torch.cat([half, half.flip(-1)], dim=-1)  # exactly mirror-symmetric crop (N, 3, 128, 96)
    assert torch.equal(x, x.flip(-1))
    merged_t = flip_test(_forward(model), x, shift=False)
    # heatmap k is the mirror image of heatmap FLIP_INDICES[k]
    torch.testing.assert_close(merged_t, flip_back(merged_t), rtol=1e-4, atol=1e-4 * float(merged_t.abs().max()))
    merged = merged_t.numpy()
    kpts, scores = get_heatmap_maximum(merged)
    w = merged.shape[-1]
    for k, j in enumerate(FLIP_INDICES):
        x_k, y_k = kpts[0, k]
        if k != j:  # left/right pairs: mirrored positions
            np.testing.assert_array_equal([x_k, y_k], [w - 1 - kpts[0, j, 0], kpts[0, j, 1]])
        else:  # the nose's map is itself symmetric: its mirrored position is an equal maximum
            mirrored = merged[0, k, int(y_k), w - 1 - int(x_k)]
            assert mirrored == pytest.approx(scores[0, k], rel=1e-4)
