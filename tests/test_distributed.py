"""Two CPU processes under torchrun (gloo): DDP keeps the weights of both ranks identical."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from hrgcnet.data import DataSpec, MixedSampler, load_records
from hrgcnet.engine.distributed import DistInfo, any_rank, broadcast_object, init_distributed, unwrap, wrap_model

WORKER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import torch
    from hrgcnet.config import TrainConfig
    from hrgcnet.data import DataSpec
    from hrgcnet.engine.distributed import cleanup, init_distributed, unwrap
    from hrgcnet.engine.train import Trainer

    ann, images, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    info = init_distributed("cpu")
    cfg = TrainConfig(model="hrgcnet-w32", input_size="64x64", train_data=[DataSpec(ann, images)],
                      samples_per_epoch=16, batch_size=2, epochs=1, workers=0, val_ann=None, log_every=1,
                      progress=False, stop_after_steps=3, checkpoint_minutes=0.0)
    trainer = Trainer(cfg, out / "run", info)
    before = {k: v.clone() for k, v in unwrap(trainer.model).state_dict().items()}
    trainer.sampler.set_epoch(0)
    seen = [int(i) for i, _ in trainer.sampler][: 3 * cfg.batch_size]
    result = trainer.run()
    after = unwrap(trainer.model).state_dict()
    torch.save({"before": before, "after": after}, out / f"rank{info.rank}.pt")
    (out / f"rank{info.rank}.json").write_text(json.dumps({"seen": seen, "steps": result.steps,
                                                           "world": info.world_size}))
    cleanup()
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_coco(coco_subset) -> tuple[Path, Path]:
    return coco_subset(4)


def test_two_gloo_processes_keep_identical_weights(tiny_coco, tmp_path):
    ann, images = tiny_coco
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(script), str(ann), str(images),
           str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    meta0, meta1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert meta0["world"] == meta1["world"] == 2 and meta0["steps"] == meta1["steps"] == 3
    # Each rank trains on its own shard of the epoch: positions 0, 2, 4, ... and 1, 3, 5, ...
    sizes = [len(load_records(DataSpec(str(ann), str(images))))]
    epoch = MixedSampler(sizes, samples_per_epoch=16, seed=0).epoch_indices()[0].tolist()
    assert meta0["seen"] == epoch[0::2][:6] and meta1["seen"] == epoch[1::2][:6]
    params = [k for k, v in r0["after"].items() if v.is_floating_point() and "running" not in k]
    # Identical on both ranks after the steps (gradients are all-reduced) ...
    assert all(torch.equal(r0["after"][k], r1["after"][k]) for k in params)
    # ... and really trained (the weights moved away from the shared initialisation).
    assert all(torch.equal(r0["before"][k], r1["before"][k]) for k in params)
    moved = [k for k in params if not torch.equal(r0["before"][k], r0["after"][k])]
    assert len(moved) > len(params) // 2
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    start = next(r for r in log if r["event"] == "start")
    assert start["world_size"] == 2 and sum(r["event"] == "train" for r in log) == 3
    # checkpoint_minutes=0: rank 0 alone writes last.pt after every step (and at the stop).
    assert [r["step"] for r in log if r["event"] == "checkpoint"] == [1, 2, 3, 3]
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"] == 3


def test_single_process_helpers_are_no_ops():
    info = init_distributed("cpu")
    assert info == DistInfo(0, 1, 0, torch.device("cpu")) and info.is_main and not info.distributed
    model = torch.nn.Linear(2, 2)
    assert wrap_model(model, info, sync_bn=True) is model and unwrap(model) is model
    assert any_rank(True, info.device) and not any_rank(False, info.device)
    assert broadcast_object({"a": 1}) == {"a": 1}
