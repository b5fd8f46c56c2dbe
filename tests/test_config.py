from pathlib import Path

import pytest
import yaml

from hrgcnet.config import (CONFIGS_DIR, TrainConfig, apply_overrides, load_config, parse_input_size,
                            save_config)
from hrgcnet.data import AugmentConfig, DataSpec
from hrgcnet.errors import UsageError


def test_defaults_are_the_paper_recipe():
    cfg = load_config("hrgcnet_w32_256x192")
    assert cfg == TrainConfig()  # the bundled paper config spells out the defaults
    assert (cfg.model, cfg.input_hw, cfg.sigma, cfg.lr, cfg.lr_steps, cfg.epochs) == \
        ("hrgcnet-w32", (256, 192), 2.0, 1e-3, [170, 200], 210)
    a = cfg.augment
    assert (a.half_body_prob, a.scale_factor, a.rotation_factor, a.rotation_prob, a.rotation_max, a.flip_prob) == \
        (0.3, 0.35, 45.0, 0.6, 45.0, 0.5)


def test_every_bundled_config_loads():
    names = sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))
    assert {"hrgcnet_w32_256x192", "hrnet_w32_256x192", "hrgcnet_w32_128x96_cpu"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert isinstance(cfg.augment, AugmentConfig) and all(isinstance(d, DataSpec) for d in cfg.train_data)
    cpu = load_config("hrgcnet_w32_128x96_cpu")
    assert cpu.input_hw == (128, 96) and [d.weight for d in cpu.train_data] == [0.6, 0.4]


def test_the_campaign_trains_the_cpu_recipe_on_one_continuing_schedule():
    """scripts/campaign.sh's config: the CPU recipe's data, targets and augmentation; a constant rate (no
    milestones, no cosine) with a weight average; dev.json validated, val.json scored inside it."""
    cpu, campaign = load_config("hrgcnet_w32_128x96_cpu"), load_config("campaign_128x96_cpu")
    same = ("input_size", "sigma", "unbiased", "train_data", "samples_per_epoch", "augment", "batch_size", "amp")
    assert {k: getattr(campaign, k) for k in same} == {k: getattr(cpu, k) for k in same}
    assert (campaign.lr_schedule, campaign.lr_steps, campaign.ema_decay) == ("multistep", [], 0.998)
    assert campaign.epochs * campaign.samples_per_epoch > 100_000_000  # only bounds the run
    assert campaign.val_ann.endswith("coco/dev.json") and [Path(a).name for a in campaign.val_subsets] == ["val.json"]


def test_round_trip(tmp_path):
    cfg = apply_overrides(load_config("hrgcnet_w32_128x96_cpu"),
                          ["lr=2e-3", "augment.flip_prob=0.25", "train_data.1.lr_swap=swap", "val_ann=null",
                           "max_minutes=30"])
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(path)
    assert again == cfg
    assert (again.lr, again.augment.flip_prob, again.train_data[1].lr_swap, again.val_ann, again.max_minutes) == \
        (2e-3, 0.25, "swap", None, 30.0)
    assert yaml.safe_load(path.read_text())["train_data"][1]["teacher_face_min_score"] == 0.5


def test_overrides_with_lists_and_nested_values():
    cfg = load_config(None, ["lr_steps=[20, 25]", "epochs=30", "input_size=128x96",
                             "train_data=[{ann: a.json, weight: 2}, {ann: b.json}]", "augment.rotation_max=90"])
    assert cfg.lr_steps == [20, 25] and cfg.epochs == 30 and cfg.input_hw == (128, 96)
    assert [(d.ann, d.weight) for d in cfg.train_data] == [("a.json", 2.0), ("b.json", 1.0)]
    assert cfg.augment.rotation_max == 90.0


@pytest.mark.parametrize("override,match", [
    ("nope=1", "unknown key"), ("augment.nope=1", "unknown key"), ("lr=fast", "must be a number"),
    ("epochs=2.5", "must be an integer"), ("channels_last=maybe", "true or false"),
    ("input_size=100x80", "multiples of 32"), ("amp=fp8", "amp must be"), ("lr_schedule=step", "lr_schedule"),
    ("train_data.3.weight=1", "bad list index"), ("train_data.0.lr_swap=maybe", "lr_swap"), ("lr", "key=value"),
    ("lr_steps=[200, 170]", "increasing"),
])
def test_bad_overrides(override, match):
    with pytest.raises(UsageError, match=match):
        load_config(None, [override])


def test_bad_files_and_sizes(tmp_path):
    with pytest.raises(UsageError, match="config not found"):
        load_config("no_such_recipe")
    (tmp_path / "bad.yaml").write_text("model: [unclosed")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    assert parse_input_size("64x64") == (64, 64)
    with pytest.raises(UsageError):
        parse_input_size("256")
