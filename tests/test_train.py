import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from hrgcnet.cli import main
from hrgcnet.config import TrainConfig, load_config
from hrgcnet.data import AugmentConfig, DataSpec
from hrgcnet.errors import UsageError
from hrgcnet.engine.train import LRSchedule, Trainer, autocast_dtype, train

NO_AUGMENT = AugmentConfig(half_body_prob=0.0, scale_factor=0.0, rotation_prob=0.0, flip_prob=0.0)



@pytest.fixture(scope="module")
def tiny_coco(coco_subset) -> tuple[Path, Path]:
    """The first 3 unstretched COCO train images with a person of at least 6 labelled keypoints."""
    return coco_subset(3, min_keypoints=6)


def read_log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_overfitting_real_images_raises_ap(tiny_coco, tmp_path):
    """The real learning test: 60 Adam steps on 6 persons of 3 COCO images, AP measured before and after."""
    from hrgcnet.evaluation.coco import evaluate_model
    from hrgcnet.models import create_model
    from hrgcnet.models.weights import read_metadata

    ann, images = tiny_coco
    cfg = TrainConfig(model="hrgcnet-w32", input_size="64x64", train_data=[DataSpec(str(ann), str(images))],
                      samples_per_epoch=8, batch_size=8, epochs=60, workers=0, augment=NO_AUGMENT, lr=2e-3,
                      lr_schedule="cosine", warmup_steps=5, val_ann=str(ann), val_images=str(images), val_every=0,
                      val_flip=False, log_every=1, progress=False, checkpoint_minutes=60)
    torch.manual_seed(cfg.seed)
    untrained, _ = evaluate_model(create_model(cfg.model), ann, images, cfg.input_hw, flip_test=False)
    result = train(cfg, tmp_path / "run")
    assert result.stopped == "finished" and result.steps == 60
    losses = result.losses
    assert len(losses) == 60 and sum(losses[-5:]) < 0.25 * sum(losses[:5])  # the loss falls
    trained = result.last_val
    # Measured on this machine: AP 0.00 -> 0.60 (0.49 with two threads).
    assert trained["AP"] >= untrained["AP"] + 0.25, (untrained, trained)
    # The best weights are exported with metadata and reload into the same AP (fp16 storage).
    best = tmp_path / "run" / "best.safetensors"
    meta = read_metadata(best)
    assert meta["model"] == "hrgcnet-w32" and meta["input_size"] == "64x64" and meta["steps"] == 60
    assert meta["samples_seen"] == 60 * 8 and meta["init_from"] is None
    assert meta["ap"] == pytest.approx(trained["AP"]) and meta["data"] == [str(ann)]
    reloaded, _ = evaluate_model(create_model(cfg.model, weights=best), ann, images, cfg.input_hw, flip_test=False)
    assert reloaded["AP"] == pytest.approx(trained["AP"], abs=0.05)
    events = [r["event"] for r in read_log(tmp_path / "run")]
    assert events[0] == "start" and events.count("train") == 60 and "val" in events and events[-1] == "end"


def test_resume_with_other_epochs_replans_the_schedule(tiny_coco, tmp_path, capsys):
    """``--resume RUN --epochs N`` stretches (or shortens) the cosine from the current step on; a length that
    ends before the current step is refused."""
    ann, images = tiny_coco
    run = tmp_path / "run"
    cfg = _resume_config(images, ann, lr_schedule="cosine", warmup_steps=0, cosine_final_factor=0.0, lr=1e-3,
                         stop_after_steps=2)
    train(cfg, run)  # 3 steps per epoch x 2 epochs, stopped at step 2
    assert main(["train", "--resume", str(run), "--epochs", "4", "--stop-after-steps", "3", "--no-progress"]) == 0
    log = read_log(run)
    assert [(r["step"], r["epochs_before"], r["epochs"]) for r in log if r["event"] == "replan"] == [(2, 2, 4)]
    # the lr logged at step k is the one step k used, schedule(k - 1): cosine over 2 x 3 steps, then over 4 x 3
    lrs = {r["step"]: r["lr"] for r in log if r["event"] == "train"}
    assert lrs[2] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 1 / 6)))
    assert lrs[3] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 2 / 12)))
    assert max(lrs) == 3 and load_config(run / "config.yaml").epochs == 4
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "1", "--no-progress"]) == 2
    assert "cannot resume with 1 epochs: the run is at step 3" in capsys.readouterr().err


def test_resume_with_an_annealing_tail(tiny_coco, tmp_path, capsys):
    """``--resume RUN --epochs N --set anneal_epochs=M``: a constant-rate run goes on at its rate, then anneals
    over its last M epochs and ends at epoch N; an annealing tail that would start before the current step is
    refused."""
    ann, images = tiny_coco
    run = tmp_path / "run"
    cfg = _resume_config(images, ann, lr_steps=[], warmup_steps=0, cosine_final_factor=0.0, lr=1e-3,
                         stop_after_steps=2)
    train(cfg, run)  # 3 steps per epoch x 2 epochs at a constant 1e-3, stopped at step 2
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "4", "--set", "anneal_epochs=4", "--no-progress"]) == 2
    assert "that starts at step 0, before the run's step 2" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--epochs", "4", "--set", "anneal_epochs=2", "--no-progress"]) == 0
    log = read_log(run)
    assert [(r["step"], r["epochs"], r["anneal_epochs"]) for r in log if r["event"] == "replan"] == [(2, 4, 2)]
    lrs = {r["step"]: r["lr"] for r in log if r["event"] == "train"}
    # the lr logged at step k is schedule(k - 1): constant through step 7 (schedule(6)), then a cosine over 6 steps
    assert [lrs[k] for k in (3, 6, 7)] == pytest.approx([1e-3] * 3)
    assert lrs[10] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 3 / 6)))
    assert max(lrs) == 12 and all(lrs[k] >= lrs[k + 1] for k in range(1, 12))
    config = load_config(run / "config.yaml")
    assert (config.epochs, config.anneal_epochs) == (4, 2)


def _resume_config(images: Path, ann: Path, **kw) -> TrainConfig:
    base = dict(model="hrgcnet-w32", input_size="64x64", train_data=[DataSpec(str(ann), str(images))],
                samples_per_epoch=12, batch_size=4, epochs=2, workers=0, val_ann=None, log_every=1,
                progress=False, lr_steps=[1], warmup_steps=2, checkpoint_minutes=60)
    base.update(kw)
    return TrainConfig(**base)


def test_resume_continues_bit_for_bit(tiny_coco, tmp_path):
    ann, images = tiny_coco
    # Uninterrupted reference, with a loader worker (augmentation depends on per-sample seeds only).
    ref = train(_resume_config(images, ann, workers=1), tmp_path / "ref")
    assert ref.steps == 6
    # Interrupted through the CLI by --max-minutes 0 (stops cleanly after the first step, mid-epoch) ...
    run = tmp_path / "run"
    common = ["--set", "model=hrgcnet-w32", "--set", f"train_data=[{{ann: {ann}, images: {images}}}]",
              "--set", "samples_per_epoch=12", "--set", "val_ann=null", "--set", "log_every=1",
              "--set", "lr_steps=[1]", "--set", "warmup_steps=2", "--set", "checkpoint_minutes=60",
              "--input-size", "64x64", "--batch-size", "4", "--epochs", "2", "--workers", "0", "--no-progress"]
    assert main(["train", *common, "--run-dir", str(run), "--max-minutes", "0"]) == 0
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]) == (1, 0, 1)
    assert {"model", "optimizer", "scheduler", "scaler", "rng"} <= set(ckpt)
    assert {"python", "numpy", "torch"} <= set(ckpt["rng"])
    # ... a schedule change is refused on resume ...
    with pytest.raises(UsageError, match="cannot change lr"):
        from hrgcnet.commands.train import add_parser, resolve  # noqa: F401
        import argparse

        parser = argparse.ArgumentParser()
        add_parser(parser.add_subparsers())
        resolve(parser.parse_args(["train", "--resume", str(run), "--lr", "0.1"]))
    # ... and resumed to the end.
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    train_records = [r for r in read_log(run) if r["event"] == "train"]
    assert [r["step"] for r in train_records] == list(range(1, 7))
    assert [r["loss"] for r in train_records] == ref.losses  # identical floats
    assert [r["lr"] for r in train_records] == [r["lr"] for r in read_log(tmp_path / "ref") if r["event"] == "train"]
    a = torch.load(tmp_path / "ref" / "last.pt", weights_only=True)
    b = torch.load(run / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"] == 6
    assert [r["stopped"] for r in read_log(run) if r["event"] == "end"] == ["max_minutes", "finished"]


def test_ema_weights_are_validated_exported_and_resumed(tiny_coco, tmp_path):
    """With ``ema_decay`` the exported best weights are the average, not the trained model; both APs are logged;
    a resumed run carries the average on bit for bit; switching it on at a resume starts it there."""
    from hrgcnet.models.weights import load_weights

    ann, images = tiny_coco
    val = dict(val_ann=str(ann), val_images=str(images), val_every=0, val_flip=False)
    train(_resume_config(images, ann, ema_decay=0.5, **val), tmp_path / "ref")
    assert [r["event"] for r in read_log(tmp_path / "ref") if r["event"].startswith("val")] == ["val_model", "val"]
    ref = torch.load(tmp_path / "ref" / "last.pt", weights_only=True)
    best, meta = load_weights(tmp_path / "ref" / "best.safetensors")
    assert meta["ema_decay"] == 0.5
    k = "final_layer.weight"
    off_ema = (best[k].float() - ref["ema"][k]).abs().max()  # fp16 storage: relative error <= 2**-11
    off_model = (best[k].float() - ref["model"][k]).abs().max()
    assert off_ema <= ref["ema"][k].abs().max() * 2 ** -11 and off_model > 10 * off_ema
    # stopped after 2 of 6 steps, then resumed
    run = tmp_path / "run"
    train(_resume_config(images, ann, ema_decay=0.5, stop_after_steps=2, **val), run)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    resumed = torch.load(run / "last.pt", weights_only=True)
    assert all(torch.equal(ref["ema"][key], resumed["ema"][key]) for key in ref["ema"])
    # a run without an average, given one at its resume
    plain = tmp_path / "plain"
    train(_resume_config(images, ann, stop_after_steps=2), plain)
    assert "ema" not in torch.load(plain / "last.pt", weights_only=True)
    assert main(["train", "--resume", str(plain), "--set", "ema_decay=0.5", "--stop-after-steps", "3",
                 "--no-progress"]) == 0
    assert [(r["step"], r["decay"]) for r in read_log(plain) if r["event"] == "ema_start"] == [(2, 0.5)]
    assert "ema" in torch.load(plain / "last.pt", weights_only=True)


def test_validation_scores_each_subset_from_the_same_predictions(tiny_coco, tmp_path):
    """``val_subsets`` (val.json inside dev.json): each is logged at every validation (the whole file as a subset
    scores exactly the validation's AP), and the learning curves get one row per split; ``val_keep_weights`` keeps
    each validation's weights."""
    from hrgcnet.analysis.curves import curves_from_run

    ann, images = tiny_coco
    data = json.loads(ann.read_text())
    one = tmp_path / "one.json"
    one.write_text(json.dumps({**data, "images": data["images"][:1]}))
    cfg = _resume_config(images, ann, val_ann=str(ann), val_images=str(images), val_every=0, val_flip=False,
                         val_subsets=[str(ann), str(one)], val_keep_weights=True)
    train(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "val_step0000006.safetensors").is_file()
    log = read_log(tmp_path / "run")
    val = next(r for r in log if r["event"] == "val")
    subsets = {r["ann"]: r for r in log if r["event"] == "val_subset"}
    assert set(subsets) == {str(ann), str(one)} and subsets[str(one)]["step"] == val["step"] == 6
    assert {k: subsets[str(ann)][k] for k in ("AP", "AR")} == {k: val[k] for k in ("AP", "AR")}
    assert [(r["split"], r["step"]) for r in curves_from_run(tmp_path / "run")] == [("one", 6), (ann.stem, 6)]


_SIGTERM_CHILD = """
import pickle, sys, time
from pathlib import Path
from hrgcnet.engine.train import Trainer, train

cfg, run_dir, marker = pickle.loads(Path(sys.argv[1]).read_bytes())
original = Trainer.train_step

def step_then_wait(self, batch):
    loss = original(self, batch)
    if self.state.step == 1:  # the second step (the counter is incremented after it): the test signals now
        Path(marker).write_text("ready")
        time.sleep(3.0)  # the rest of a step: the signals (and a killed worker's SIGCHLD) arrive meanwhile
    return loss

Trainer.train_step = step_then_wait
result = train(cfg, Path(run_dir))
print(result.stopped, result.steps)
"""


@pytest.mark.parametrize("workers", [0, 1])
def test_sigterm_saves_a_checkpoint_and_stops(tiny_coco, tmp_path, workers):
    """SIGTERM to a run's process group (as Ctrl-C or ``kill -- -PGID`` send) stops it after the current step
    with a resumable checkpoint.

    The run is a process of its own, signalled from outside as pkill does: signalling the test process itself
    would also reach the threads of whatever earlier tests left in it."""
    import pickle
    import sys

    ann, images = tiny_coco
    marker, run_dir = tmp_path / "ready", tmp_path / "run"
    (tmp_path / "job.pkl").write_bytes(pickle.dumps((_resume_config(images, ann, workers=workers), str(run_dir),
                                                     str(marker))))
    child = subprocess.Popen([sys.executable, "-c", _SIGTERM_CHILD, str(tmp_path / "job.pkl")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), child.communicate(timeout=30)[1][-3000:] if child.poll() is not None else "no step"
        os.killpg(child.pid, signal.SIGTERM)  # the trainer and its loader workers, from another process
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 0, err[-3000:]
    assert out.split()[-2:] == ["signal", "2"]
    ckpt = torch.load(run_dir / "last.pt", weights_only=True)
    assert (ckpt["step"], ckpt["batch_in_epoch"]) == (2, 2)
    assert [r["stopped"] for r in read_log(run_dir) if r["event"] == "end"] == ["signal"]


def test_stop_on_signal_puts_the_handlers_back():
    from hrgcnet.engine.train import StopOnSignal

    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignal() as stop:
        assert signal.getsignal(signal.SIGTERM) is not before and not stop.requested
    assert signal.getsignal(signal.SIGTERM) is before


_LEFT_WORKERS_CHILD = """
import multiprocessing, pickle, sys
from hrgcnet.engine.distributed import init_distributed
from hrgcnet.engine.train import Trainer
config, run_dir = pickle.loads(open(sys.argv[1], "rb").read())
trainer = Trainer(config, run_dir, init_distributed("cpu"))
print((trainer.loader.multiprocessing_context or multiprocessing).get_start_method(), len(next(iter(trainer.loader))["image"]), flush=True)
"""  # exits with its persistent loader worker still running


def test_loader_workers_do_not_fork_the_trainer_and_never_block_its_exit(tiny_coco, tmp_path):
    # A forked worker inherits the locks that the parent's other threads hold (a served app's, OpenCV's or
    # OpenVINO's pools, as in a test session): CI saw such workers hang, and the test process, unable to stop
    # them, never exited. Workers come from a forkserver, and a process that exits without shutting its
    # loader down still exits.
    import pickle
    import sys

    ann, images = tiny_coco
    (tmp_path / "job.pkl").write_bytes(pickle.dumps((_resume_config(images, ann, workers=1), tmp_path / "run")))
    child = subprocess.run([sys.executable, "-c", _LEFT_WORKERS_CHILD, str(tmp_path / "job.pkl")],
                           capture_output=True, text=True, timeout=180)
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.split() == ["forkserver", "4"]


def test_init_from_hrnet_checkpoint(tiny_coco, tmp_path):
    from hrgcnet.models import create_model
    from hrgcnet.models.weights import save_weights

    ann, images = tiny_coco
    torch.manual_seed(1)
    hrnet = create_model("hrnet-w32")
    path = save_weights(hrnet, tmp_path / "hrnet.safetensors", metadata={"model": "hrnet-w32", "samples_seen": 1000},
                        dtype=None)
    cfg = _resume_config(images, ann, init_from=str(path))
    from hrgcnet.engine.distributed import init_distributed

    trainer = Trainer(cfg, tmp_path / "run", init_distributed("cpu"))
    assert trainer.samples_before == 1000  # counted on in the weights' samples_seen and the learning curves
    report = trainer.init_report
    assert report is not None and len(report.copied) > 1000 and report.new  # GC blocks are new
    model_sd, source = trainer.model.state_dict(), hrnet.state_dict()
    assert {"conv1.weight", "stage4.0.branches.3.3.conv2.weight", "final_layer.bias"} <= set(report.copied)
    assert all(torch.equal(model_sd[k], source[k]) for k in report.copied)
    assert report.skipped == [f"layer1.{i}.conv2.weight" for i in range(4)]  # dense 3x3 -> depthwise-separable
    assert all(".gc." in k or "layer1" in k for k in report.new)
    # a run's last.pt, used in turn as --init-from, counts on its samples too
    trainer.run()
    second = Trainer(_resume_config(images, ann, init_from=str(tmp_path / "run" / "last.pt")), tmp_path / "run2",
                     init_distributed("cpu"))
    assert second.samples_before == 1000 + 6 * 4


def test_lr_schedule():
    multi = LRSchedule("multistep", steps_per_epoch=10, epochs=210, milestones=[170, 200], gamma=0.1)
    assert [multi(s) for s in (0, 1699, 1700, 1999, 2000, 2099)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    warm = LRSchedule("multistep", 10, 5, [3], 0.1, warmup_steps=4)
    assert [warm(s) for s in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1, 1])
    cos = LRSchedule("cosine", 10, 10, [], 0.1, final_factor=0.01)
    assert cos(0) == 1.0 and cos(100) == pytest.approx(0.01) and cos(50) == pytest.approx(0.505)
    assert all(cos(s) >= cos(s + 1) for s in range(100))
    assert math.isclose(cos(1), 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi / 100)))
    # a constant rate annealed over its last 4 epochs (40 steps): flat up to step 60, then a cosine to 0.01
    tail = LRSchedule("multistep", 10, 10, [], 0.1, final_factor=0.01, anneal_steps=40)
    assert [tail(s) for s in (0, 59, 60)] == pytest.approx([1, 1, 1])
    assert tail(80) == pytest.approx(0.505) and tail(100) == pytest.approx(0.01)
    assert all(tail(s) >= tail(s + 1) for s in range(100))


def test_autocast_dtype_choice():
    from hrgcnet.pipeline import cpu_supports_bf16

    cpu = torch.device("cpu")
    assert autocast_dtype("off", cpu) is None
    assert autocast_dtype("bf16", cpu) == torch.bfloat16
    assert autocast_dtype("auto", cpu) == (torch.bfloat16 if cpu_supports_bf16() else None)
    with pytest.raises(UsageError, match="fp16 needs CUDA"):
        autocast_dtype("fp16", cpu)


def test_cli_print_config(capsys):
    assert main(["train", "--config", "hrgcnet_w32_128x96_cpu", "--lr", "0.002", "--set", "augment.flip_prob=0",
                 "--print-config"]) == 0
    import yaml

    printed = yaml.safe_load(capsys.readouterr().out)
    cfg = load_config("hrgcnet_w32_128x96_cpu", ["lr=0.002", "augment.flip_prob=0"])
    assert TrainConfig.from_dict(printed) == cfg and cfg.lr == 0.002 and cfg.augment.flip_prob == 0.0
    assert main(["train", "--config", "nope", "--print-config"]) == 2
    assert "config not found" in capsys.readouterr().err
