import os
import pickle

import pytest
import torch

from hrgcnet.errors import WeightsError
from hrgcnet.models import create_model
from hrgcnet.models.weights import (convert_state_dict, init_from_hrnet, load_state_dict_strict, load_weights,
                                    read_metadata, save_weights)


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
