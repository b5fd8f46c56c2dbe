import numpy as np
import pytest

from hrgcnet.data import MixedSampler, split_by_weight


def test_split_by_weight():
    assert split_by_weight(10, [1, 1]) == [5, 5]
    assert split_by_weight(10, [0.6, 0.4]) == [6, 4]
    assert split_by_weight(7, [1, 1, 1]) == [3, 2, 2]
    assert sum(split_by_weight(1001, [0.3, 0.2, 0.5])) == 1001
    with pytest.raises(ValueError):
        split_by_weight(10, [0, 0])


def test_epoch_mixes_files_by_weight():
    sampler = MixedSampler([100, 30], weights=[0.25, 0.75], samples_per_epoch=200, seed=3)
    idx, seeds = sampler.epoch_indices()
    assert len(idx) == 200 and len(set(seeds.tolist())) == 200
    from_second = idx >= 100
    assert from_second.sum() == 150 and (~from_second).sum() == 50
    assert len(set(idx[~from_second].tolist())) == 50  # no repeats while the file is large enough
    counts = np.bincount(idx[from_second] - 100, minlength=30)
    assert counts.min() == 5 and counts.max() == 5  # a small file is repeated evenly (5 x 30 = 150)


def test_default_epoch_is_one_pass():
    sampler = MixedSampler([7, 5])
    idx, _ = sampler.epoch_indices()
    assert sorted(idx.tolist()) == list(range(12))


def test_epochs_differ_and_repeat():
    sampler = MixedSampler([50], seed=1)
    sampler.set_epoch(0)
    a = list(sampler)
    sampler.set_epoch(1)
    b = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == a and a != b


def test_resume_start_skips_samples():
    sampler = MixedSampler([40, 20], weights=[1, 1], seed=2)
    sampler.set_epoch(3)
    full = list(sampler)
    sampler.set_epoch(3, start=17)
    assert list(sampler) == full[17:] and len(sampler) == len(full) - 17


def test_ranks_split_the_epoch():
    world = 3
    shards = []
    for rank in range(world):
        s = MixedSampler([10, 11], seed=4, rank=rank, world_size=world)
        s.set_epoch(2)
        shards.append(s.epoch_indices()[0])
    assert all(len(sh) == 7 for sh in shards)
    union = np.concatenate(shards)
    assert sorted(union.tolist()) == list(range(21))
    ref = MixedSampler([10, 11], seed=4)
    ref.set_epoch(2)
    assert np.array_equal(ref.epoch_indices()[0][1::3], shards[1])
    # Padding wraps around when the epoch does not divide by the ranks.
    padded = [MixedSampler([5], rank=r, world_size=4).epoch_indices()[0] for r in range(4)]
    assert all(len(p) == 2 for p in padded) and set(np.concatenate(padded).tolist()) == set(range(5))
