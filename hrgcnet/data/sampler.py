"""Epoch sampler for one or several datasets mixed by weight, sharded across distributed ranks and
resumable mid-epoch.

Each epoch draws ``samples_per_epoch`` indices: file ``i`` contributes ``n_i`` of them in proportion to
its weight (largest-remainder rounding); within a file, indices are drawn without replacement from
repeated random permutations (a file with ``n_i`` larger than its size is repeated). The whole epoch
is shuffled, padded to a multiple of ``world_size`` (like ``DistributedSampler``) and rank ``r`` takes
positions ``r, r + world_size, ...``. Every index comes with its own augmentation seed, so the
samples depend only on ``(seed, epoch, position)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


def split_by_weight(total: int, weights: Sequence[float]) -> list[int]:
    """Integers ``n_i`` summing to ``total``, proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts.tolist()


class MixedSampler(Sampler):
    """Yields ``(dataset_index, seed)`` for a ``ConcatDataset``-style index space.

    Args:
        sizes: number of samples of each file, in concatenation order.
        weights: share of each file per epoch.
        samples_per_epoch: epoch length over all ranks (default: ``sum(sizes)``).
        seed: base seed; the epoch is set with :meth:`set_epoch`.
        rank, world_size: distributed shard.
        shuffle: False gives files in order, each in index order (weights still apply).
    """

    def __init__(self, sizes: Sequence[int], weights: Sequence[float] | None = None,
                 samples_per_epoch: int | None = None, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True) -> None:
        self.sizes = [int(s) for s in sizes]
        if not self.sizes or min(self.sizes) <= 0:
            raise ValueError(f"every dataset needs at least one sample, sizes={self.sizes}")
        self.weights = list(weights) if weights is not None else [float(s) for s in self.sizes]
        if len(self.weights) != len(self.sizes):
            raise ValueError(f"{len(self.weights)} weights for {len(self.sizes)} datasets")
        self.samples_per_epoch = int(samples_per_epoch or sum(self.sizes))
        self.seed, self.rank, self.world_size, self.shuffle = seed, rank, world_size, shuffle
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch; ``start`` skips the first samples of this rank (mid-epoch resume)."""
        self.epoch, self.start = int(epoch), int(start)

    @property
    def num_samples(self) -> int:
        """Samples per rank per epoch."""
        return -(-self.samples_per_epoch // self.world_size)

    def __len__(self) -> int:
        return self.num_samples - self.start

    def epoch_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """This rank's full epoch: indices and seeds ``(num_samples,)`` each."""
        rng = np.random.default_rng([self.seed, self.epoch])
        offsets = np.cumsum([0] + self.sizes[:-1])
        parts = []
        for offset, size, n in zip(offsets, self.sizes, split_by_weight(self.samples_per_epoch, self.weights)):
            reps = -(-n // size)
            perms = [rng.permutation(size) if self.shuffle else np.arange(size) for _ in range(reps)]
            parts.append(offset + np.concatenate(perms)[:n] if n else np.zeros(0, np.int64))
        indices = np.concatenate(parts)
        if self.shuffle:
            indices = indices[rng.permutation(len(indices))]
        seeds = rng.integers(0, 2 ** 62, size=len(indices))
        total = self.num_samples * self.world_size
        indices, seeds = np.resize(indices, total), np.resize(seeds, total)  # pad by wrapping around
        return indices[self.rank::self.world_size], seeds[self.rank::self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices, seeds = self.epoch_indices()
        for i, s in zip(indices[self.start:].tolist(), seeds[self.start:].tolist()):
            yield i, s
