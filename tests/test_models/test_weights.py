import os
import pickle

import pytest
import torch

from hrgcnet.errors import WeightsError
from hrgcnet.models import create_model
from hrgcnet.models.weights import (INT8_SCALE_SUFFIX, InitReport, convert_state_dict, init_from_hrnet,
                                    load_state_dict_strict, load_weights, quantize_int8, read_metadata, save_weights)


@pytest.fixture(scope="module")
def hrnet():
    torch.manual_seed(1)
    return create_model("hrnet-w32")


def official_checkpoint(model):
    """A checkpoint as the official repo saves it: a bare state dict with official names."""
    return {k: v.clone() for k, v in model.state_dict().items()}


def mmpose_checkpoint(model, version=1):
    """mmpose naming: backbone.* plus the head's final layer, wrapped with meta."""
    head = "head.final_layer." if version == 1 else "keypoint_head.final_layer."
    sd = {}
    for k, v in model.state_dict().items():
        sd[(head + k[len("final_layer."):]) if k.startswith("final_layer.") else "backbone." + k] = v.clone()
    return {"meta": {"epoch": 210, "mmpose_version": "1.3.1" if version == 1 else "0.29.0"}, "state_dict": sd}


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("fmt", ["official", "mmpose1", "mmpose0"])
def test_official_and_mmpose_checkpoints_load_strictly(tmp_path, hrnet, fmt):
    ckpt = {"official": official_checkpoint, "mmpose1": mmpose_checkpoint,
            "mmpose0": lambda m: mmpose_checkpoint(m, version=0)}[fmt](hrnet)
    path = tmp_path / f"{fmt}.pth"
    torch.save(ckpt, path)
    if fmt != "official":
        assert any(k.startswith("backbone.") for k in ckpt["state_dict"])
    loaded = create_model("hrnet-w32", weights=path)
    assert_same_weights(loaded, hrnet)


def test_safetensors_round_trip_with_metadata(tmp_path, hrnet):
    meta = {"model": "hrnet-w32", "input_size": "256x192", "ap": 0.5, "training": {"steps": 3}}
    path = save_weights(hrnet, tmp_path / "w.safetensors", meta)
    assert read_metadata(path) == meta
    sd, got_meta = load_weights(path)
    assert got_meta == meta
    assert sd["conv1.weight"].dtype == torch.float16
    assert sd["bn1.num_batches_tracked"].dtype == torch.int64
    model = create_model("hrnet-w32", weights=path)
    assert model.conv1.weight.dtype == torch.float32
    torch.testing.assert_close(model.conv1.weight, hrnet.conv1.weight, atol=1e-3, rtol=1e-3)


def test_int8_weights_round_trip_within_half_a_step(tmp_path, hrnet):
    """int8 files: conv weights per output channel (error <= scale / 2), the rest fp16; loaded back as float32
    into the same strict loader; half the size of fp16."""
    fp16 = save_weights(hrnet, tmp_path / "w16.safetensors")
    int8 = save_weights(hrnet, tmp_path / "w8.safetensors", metadata={"ap": 0.5}, dtype=torch.int8)
    assert int8.stat().st_size < 0.55 * fp16.stat().st_size
    sd, meta = load_weights(int8)
    assert meta["ap"] == 0.5 and "int8" in meta["weights_format"]
    assert set(sd) == set(hrnet.state_dict()) and not any(INT8_SCALE_SUFFIX in k for k in sd)
    for key, ref in hrnet.state_dict().items():
        if ref.is_floating_point() and ref.dim() >= 2:
            _, scale = quantize_int8(ref)
            step = scale.view(-1, *([1] * (ref.dim() - 1)))
            assert sd[key].dtype == torch.float32 and ((sd[key] - ref).abs() <= step / 2 + 1e-7).all(), key
        elif ref.is_floating_point():
            torch.testing.assert_close(sd[key].float(), ref.half().float())
        else:
            assert torch.equal(sd[key], ref)
    model = create_model("hrnet-w32", weights=int8)  # strict load, no leftover scale keys
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        err = (model.eval()(x) - hrnet.eval()(x)).abs().max() / hrnet(x).abs().max()
    assert err < 0.05


def test_quantize_int8_edge_cases():
    q, scale = quantize_int8(torch.zeros(3, 2, 1, 1))  # an all-zero channel: no division by zero
    assert q.dtype == torch.int8 and torch.equal(q, torch.zeros_like(q)) and (scale > 0).all()
    w = torch.tensor([[1.0, -2.0], [0.5, 0.25]])
    q, scale = quantize_int8(w)
    assert q.tolist() == [[64, -127], [127, 64]] and scale.tolist() == pytest.approx([2 / 127, 0.5 / 127])


def test_export_command(tmp_path, hrnet, capsys):
    from hrgcnet.cli import main

    src = save_weights(hrnet, tmp_path / "best.safetensors", metadata={"ap": 0.1, "input_size": "128x96"})
    out = tmp_path / "hrnet-w32.safetensors"
    assert main(["weights", "export", str(src), "--model", "hrnet-w32", "--dtype", "int8", "--out", str(out)]) == 0
    assert "int8" in capsys.readouterr().out
    meta = read_metadata(out)
    assert (meta["model"], meta["input_size"], meta["ap"]) == ("hrnet-w32", "128x96", 0.1)
    again = tmp_path / "fp16.safetensors"  # an int8 file exported back to fp16 says so
    assert main(["weights", "export", str(out), "--model", "hrnet-w32", "--out", str(again)]) == 0
    assert "weights_format" not in read_metadata(again)
    assert main(["weights", "export", str(src), "--model", "hrgcnet-w32", "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "missing" in capsys.readouterr().err.lower()


def test_export_completes_samples_seen_from_the_run(tmp_path, hrnet, capsys):
    """Weights of a run older than the ``samples_seen`` key get it from their run's log at export."""
    import json

    from hrgcnet.cli import main
    from hrgcnet.config import TrainConfig, save_config

    run = tmp_path / "run"
    run.mkdir()
    save_config(TrainConfig(model="hrnet-w32", input_size="128x96", batch_size=16), run / "config.yaml")
    (run / "log.jsonl").write_text(json.dumps({"event": "start", "step": 0, "world_size": 1}) + "\n"
                                   + json.dumps({"event": "val", "step": 64, "AP": 0.1}) + "\n")
    src = save_weights(hrnet, run / "best.safetensors", metadata={"ap": 0.1, "steps": 64})
    out = tmp_path / "out.safetensors"
    assert main(["weights", "export", str(src), "--model", "hrnet-w32", "--out", str(out), "--note", "Rough."]) == 0
    assert read_metadata(out)["samples_seen"] == 64 * 16 and read_metadata(out)["note"] == "Rough."


def test_wrong_architecture_names_the_keys(tmp_path, hrnet):
    path = save_weights(hrnet, tmp_path / "hrnet.safetensors", {"model": "hrnet-w32"})
    with pytest.raises(WeightsError) as err:
        create_model("hrgcnet-w32", weights=path)
    msg = str(err.value)
    assert "missing keys" in msg and "gc.conv_mask.weight" in msg
    assert "unexpected keys" in msg and "layer1.0.conv2.weight" in msg
    with pytest.raises(WeightsError, match="mis-shaped keys"):
        load_state_dict_strict(create_model("hrnet-w48"), hrnet.state_dict())


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": Exploit()}, f)
    with pytest.raises(WeightsError, match="refused"):
        load_weights(path)
    assert not marker.exists()


def test_truncated_and_garbage_files(tmp_path, hrnet):
    good = save_weights(hrnet, tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsError, match="truncated"):
        load_weights(truncated)
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        load_weights(tmp_path / "empty.safetensors")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(WeightsError):
        load_weights(tmp_path / "text.pth")
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "nope.safetensors")


def test_convert_rejects_non_tensors():
    with pytest.raises(WeightsError, match="not a tensor"):
        convert_state_dict({"state_dict": {"conv1.weight": [1, 2]}})


def test_init_hrgcnet_from_hrnet_report(hrnet):
    model = create_model("hrgcnet-w32")
    report = init_from_hrnet(model, hrnet.state_dict())
    # every stage-1 dense 3x3 is skipped, every GC/DWS tensor is new, everything else copied
    assert sorted(report.skipped) == [f"layer1.{i}.conv2.weight" for i in range(4)]
    assert all(".gc." in k or "conv2_dw" in k or "conv2_pw" in k or "bn2_dw" in k for k in report.new)
    assert any("conv2_dw" in k for k in report.new) and any(".gc." in k for k in report.new)
    assert len(report.copied) == len(hrnet.state_dict()) - 4
    torch.testing.assert_close(model.stage3[1].branches[2][0].conv1.weight, hrnet.stage3[1].branches[2][0].conv1.weight)
    assert "copied" in report.summary() and "new" in report.summary()


def test_init_report_summary_names_groups_only_when_present():
    assert InitReport(copied=["a.weight"]).summary() == "copied 1 tensors; new 0; skipped 0"
    text = InitReport(copied=["a.weight"], new=["layer1.0.gc.conv_mask.weight"], skipped=["b.weight"]).summary()
    assert text == "copied 1 tensors; new 1 (not in the source: layer1.0.gc); skipped 1 (not usable: b)"


def test_save_weights_is_atomic(tmp_path, hrnet, monkeypatch):
    """A save that dies midway (killed, disk full) leaves the previous file intact and no partial file."""
    import hrgcnet.models.weights as weights_module

    path = save_weights(hrnet, tmp_path / "w.safetensors", {"model": "hrnet-w32"})
    before = path.read_bytes()
    real_save_file = weights_module.save_file

    def dies_midway(tensors, filename, metadata=None):
        real_save_file(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as f:
            f.truncate(len(before) // 2)
        raise KeyboardInterrupt  # like Ctrl-C during the write

    monkeypatch.setattr(weights_module, "save_file", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_weights(create_model("hrnet-w32"), path, {"model": "other"})
    with pytest.raises(KeyboardInterrupt):
        save_weights(hrnet, tmp_path / "new.safetensors")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
    assert read_metadata(path) == {"model": "hrnet-w32"}
