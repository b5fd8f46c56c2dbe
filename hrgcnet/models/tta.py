"""Flip test of the official HRNet (``TEST.FLIP_TEST`` with ``TEST.SHIFT_HEATMAP``).

The network also sees the horizontally flipped crop; its heatmaps are flipped back, the left/right
channels are swapped (``FLIP_INDICES``), the result is shifted one heatmap pixel to the right
(the official ``SHIFT_HEATMAP``), and it is averaged with the plain heatmaps.

The shift over-corrects (as the UDP paper, Huang et al. 2020, points out): with heatmap pixel ``j`` at crop
pixel ``4 j``, a crop pixel ``x`` is at ``W - 1 - x`` in the flipped crop, so the flipped-back peak lies at
``x / 4 - 0.75``; shifted by one it lies at ``x / 4 + 0.25``, and the average leans to the right, by up to
1/8 heatmap pixel (half a crop pixel) for a smooth peak. This module keeps the official behaviour, which the
paper's numbers use.

Shapes: ``heatmaps (N, K, h, w)`` torch tensors; ``crops (N, 3, H, W)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..structures import FLIP_INDICES


def flip_back(heatmaps: torch.Tensor, flip_indices: Sequence[int] = FLIP_INDICES) -> torch.Tensor:
    """Heatmaps of a flipped crop ``(N, K, h, w)`` -> heatmaps in the frame of the unflipped crop.

    Mirrors the width axis and reorders the channels so that channel ``k`` holds keypoint ``k``.
    """
    if heatmaps.dim() != 4:
        raise ValueError(f"heatmaps must be (N, K, h, w), got shape {tuple(heatmaps.shape)}")
    if heatmaps.shape[1] != len(flip_indices):
        raise ValueError(f"{heatmaps.shape[1]} heatmap channels but {len(flip_indices)} flip indices")
    index = torch.as_tensor(list(flip_indices), device=heatmaps.device)
    return heatmaps.flip(-1).index_select(1, index)


def shift_heatmaps(heatmaps: torch.Tensor) -> torch.Tensor:
    """Official ``SHIFT_HEATMAP``: move every column one pixel right; column 0 keeps its value.

    ``out[..., 1:] = in[..., :-1]``, ``out[..., 0] = in[..., 0]`` (the official in-place copy).
    """
    out = heatmaps.clone()
    out[..., 1:] = heatmaps[..., :-1]
    return out


def merge_flip_heatmaps(heatmaps: torch.Tensor, flipped_heatmaps: torch.Tensor, shift: bool = True,
                        flip_indices: Sequence[int] = FLIP_INDICES) -> torch.Tensor:
    """Average plain heatmaps with the flipped-back heatmaps of the flipped crops.

    Args:
        heatmaps: ``(N, K, h, w)`` of the crops.
        flipped_heatmaps: ``(N, K, h, w)`` the network output for ``crops.flip(-1)``.
        shift: apply :func:`shift_heatmaps` to the flipped-back maps (official default True).

    Returns:
        ``(N, K, h, w)`` averaged heatmaps.
    """
    if heatmaps.shape != flipped_heatmaps.shape:
        raise ValueError(f"shape mismatch: {tuple(heatmaps.shape)} vs {tuple(flipped_heatmaps.shape)}")
    back = flip_back(flipped_heatmaps, flip_indices)
    if shift:
        back = shift_heatmaps(back)
    return (heatmaps + back) * 0.5


def flip_test(forward: Callable[[torch.Tensor], torch.Tensor], crops: torch.Tensor, shift: bool = True,
              flip_indices: Sequence[int] = FLIP_INDICES) -> torch.Tensor:
    """Run ``forward`` on crops ``(N, 3, H, W)`` and their mirror images in one batch of ``2N``.

    Returns the merged heatmaps ``(N, K, h, w)`` (see :func:`merge_flip_heatmaps`).
    """
    n = crops.shape[0]
    both = forward(torch.cat([crops, crops.flip(-1)], dim=0))
    return merge_flip_heatmaps(both[:n], both[n:], shift=shift, flip_indices=flip_indices)
