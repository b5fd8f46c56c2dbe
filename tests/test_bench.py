import copy
import json
from pathlib import Path

import pytest
import torch

from hrgcnet.engine.bench import (BASELINE, BenchResult, StepOptions, TrainStep, bench_loader, bench_synthetic, conv_floor,
                           loader_config, machine_info, synthetic_batch)
from hrgcnet.cli import main
from hrgcnet.config import TrainConfig
from hrgcnet.data import AugmentConfig, DataSpec
from hrgcnet.engine.distributed import DistInfo
from hrgcnet.errors import UsageError
from hrgcnet.models import create_model
from hrgcnet.models.profile import count_macs

TINY = dict(warmup=1, windows=2, steps=1)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny_coco(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    """``(annotation file, image folder)``: 3 unstretched COCO train images with well-labelled persons."""
    data = json.loads((shared_data / "coco" / "train.json").read_text())
    keep = []
    for img in data["images"]:
        anns = [a for a in data["annotations"] if a["image_id"] == img["id"]]
        if not img.get("stretched") and any(a["num_keypoints"] > 5 and not a["iscrowd"] for a in anns):
            keep.append(img)
        if len(keep) == 3:
            break
    ids = {img["id"] for img in keep}
    data["images"] = keep
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    path = tmp_path_factory.mktemp("bench_coco") / "train.json"
    path.write_text(json.dumps(data))
    return path, shared_data / "coco" / "images"


def tiny_config(tiny_coco, **changes) -> TrainConfig:
    ann, images = tiny_coco
    return TrainConfig(**{**dict(model="hrgcnet-w32", input_size="64x64", train_data=[DataSpec(str(ann), str(images))],
                                 samples_per_epoch=8, batch_size=2, workers=0, val_ann=None, progress=False,
                                 augment=AugmentConfig()), **changes})


@pytest.mark.parametrize("precision,channels_last", [("bf16", True), ("fp32", False)])
def test_train_step_is_the_training_loops_step(tiny_coco, tmp_path, precision, channels_last):
    """What the model-only benchmark times is exactly Trainer.train_step: same loss, same updated weights."""
    from hrgcnet.engine.train import Trainer

    cfg = tiny_config(tiny_coco, amp=precision if precision == "bf16" else "off", channels_last=channels_last)
    trainer = Trainer(cfg, tmp_path / "run", DistInfo())
    model = copy.deepcopy(trainer.model)
    step = TrainStep(model, StepOptions(precision, channels_last), lr=cfg.lr)
    trainer.sampler.set_epoch(0)
    batch = next(iter(trainer.loader))
    trainer.model.train()
    loss_trainer = trainer.train_step(batch)
    loss_step = step(batch)
    assert torch.equal(loss_step, loss_trainer)
    for (name, p), q in zip(trainer.model.named_parameters(), model.parameters()):
        assert torch.equal(p, q), name


def test_bench_synthetic_result_and_progress():
    calls = []
    res = bench_synthetic("hrnet-w32", (64, 64), batch=2, options=StepOptions("bf16", True),
                          progress=lambda *a: calls.append(a), **TINY)
    assert isinstance(res, BenchResult) and res.mode == "synthetic"
    assert len(res.window_ms_per_sample) == len(res.window_cpu_ms_per_sample) == 2
    assert res.min_ms_per_sample <= res.median_ms_per_sample <= res.max_ms_per_sample
    assert res.samples_per_s == pytest.approx(1000 / res.median_ms_per_sample)
    assert res.spread >= 0 and res.threads == 1 and res.warmup_s > 0
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    d = res.to_dict()
    assert d["label"] == "bf16 channels_last eager" and d["data_wait_fraction"] is None
    json.dumps(d)


def test_bench_synthetic_sets_and_restores_threads():
    torch.set_num_threads(2)
    try:
        res = bench_synthetic("hrnet-w32", (64, 32), batch=1, options=StepOptions("fp32", False, threads=1), **TINY)
        assert res.threads == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert res.label == BASELINE.label == "fp32 NCHW eager"


def test_bench_loader_uses_the_training_config_and_reports_data_wait(tiny_coco):
    base = tiny_config(tiny_coco)
    res = bench_loader("hrnet-w32", (64, 64), batch=2, options=StepOptions("bf16", True), config=base, workers=1,
                       cache_images=True, data_samples=4, **TINY)
    assert res.mode == "loader" and res.workers == 1 and res.cache_images is True
    assert 0.0 <= res.data_wait_fraction < 1.0
    assert res.data_cpu_ms_per_sample > 0
    assert res.extra["train_data"] == [d.ann for d in base.train_data]
    cfg = loader_config("hrnet-w32", (64, 32), 4, BASELINE, base, samples=40)
    assert (cfg.model, cfg.input_hw, cfg.batch_size, cfg.amp, cfg.channels_last) == ("hrnet-w32", (64, 32), 4, "off", False)
    assert cfg.samples_per_epoch == 40 and cfg.workers == 0 and cfg.augment == base.augment


def test_conv_floor_counts_every_convolution_once():
    """FLOPs of the floor = 3 x 2 x the model's MACs (hrnet has no matmuls), minus the stem's grad input."""
    res = conv_floor("hrnet-w32", (64, 64), batch=1, options=StepOptions("fp32", False), repeats=1)
    model = create_model("hrnet-w32")
    assert sum(r["count"] for r in res["layers"]) == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    stem_macs = 32 * 32 * 64 * 3 * 9
    expected = (6 * count_macs(model, (64, 64)) - 2 * stem_macs) / 1e9
    assert res["gflop_per_sample"] == pytest.approx(expected, rel=1e-9)
    assert res["ms_per_sample"] > 0 and res["gflops_per_s"] > 0


def test_synthetic_batch_and_option_errors():
    b = synthetic_batch(3, (64, 32))
    assert b["image"].dtype == torch.uint8 and b["image"].shape == (3, 3, 64, 32)
    assert b["heatmaps"].shape == (3, 17, 16, 8) and b["target_weight"].shape == (3, 17)
    with pytest.raises(UsageError, match="precision"):
        StepOptions("fp16")
    with pytest.raises(UsageError, match="multiples of 32"):
        bench_synthetic("hrnet-w32", (64, 48), batch=1, **TINY)
    with pytest.raises(UsageError, match="windows"):
        bench_synthetic("hrnet-w32", (64, 64), batch=1, warmup=1, windows=0, steps=1)
    info = machine_info()
    assert info["cores"] >= 1 and isinstance(info["avx512_bf16"], bool)


def test_cli_json_baseline_side_by_side(capsys):
    code = main(["bench", "--train", "--model", "hrnet-w32", "--input-size", "64x32", "--batch", "2", "--mode",
                 "synthetic", "--baseline", "--threads", "1", "--warmup", "1", "--windows", "1", "--steps", "1",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["results"]
    assert [(r["label"], r["extra"]["role"]) for r in rows] == [("fp32 NCHW eager", "baseline"),
                                                                ("bf16 channels_last eager", "optimized")]
    assert all(r["input_size"] == "64x32" and r["batch"] == 2 and r["threads"] == 1 for r in rows)
    [speedup] = [c for c in out["comparisons"] if c["kind"] == "speedup"]
    assert speedup["factor"] == pytest.approx(rows[0]["median_ms_per_sample"] / rows[1]["median_ms_per_sample"])


def test_cli_text_and_gc_cost_comparison(capsys):
    code = main(["bench", "--train", "--model", "hrnet-w32", "--model", "hrgcnet-w32", "--input-size", "64x32",
                 "--batch", "1", "--mode", "synthetic", "--warmup", "1", "--windows", "1", "--steps", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "ms/sample" in out and "load " in out
    assert "hrgcnet-w32 vs hrnet-w32 64x32 synthetic" in out


@pytest.mark.parametrize("argv,message", [
    (["bench", "--model", "hrnet-w32"], "--train"),
    (["bench", "--train", "--model", "resnet-50"], "unknown model"),
    (["bench", "--train", "--input-size", "100x60"], "multiples of 32"),
    (["bench", "--train", "--batch", "0"], "--batch"),
])
def test_cli_errors(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_compile_model_points_the_kernel_cache_to_a_lasting_folder(tmp_path, monkeypatch):
    from hrgcnet.engine.bench import compile_cache_dir, compile_model

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("HRGCNET_CACHE", str(tmp_path / "cache"))
    assert compile_cache_dir() == tmp_path / "cache" / "inductor"
    compiled = compile_model(torch.nn.Linear(2, 2))  # lazy: nothing is compiled before the first call
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule)
    assert (tmp_path / "cache" / "inductor").is_dir()
    assert compile_cache_dir() == tmp_path / "cache" / "inductor"  # now from TORCHINDUCTOR_CACHE_DIR
    compile_model(torch.nn.Linear(2, 2), cache_dir=tmp_path / "other")
    assert compile_cache_dir() == tmp_path / "other"


def test_profile_step_shares_add_up():
    from hrgcnet.engine.bench import profile_step

    prof = profile_step("hrgcnet-w32", (64, 32), batch=2, options=StepOptions("bf16", True), warmup=1, steps=1)
    assert sum(c["percent"] for c in prof["categories"]) == pytest.approx(100.0)
    cats = {c["category"] for c in prof["categories"]}
    assert {"conv forward", "conv backward", "batch norm", "optimizer", "GC pooling"} <= cats
    assert prof["ops"][0]["ms_per_step"] >= prof["ops"][-1]["ms_per_step"]
