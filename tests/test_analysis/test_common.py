from pathlib import Path

import hrgcnet.analysis.common as common


def test_untrained_message_names_the_models_without_weights(monkeypatch):
    monkeypatch.setattr(common, "default_weights_path", lambda name: None)
    assert "no model has trained weights" in common.untrained_message()
    trained = {"hrnet-w32"}
    monkeypatch.setattr(common, "default_weights_path",
                        lambda name: Path(f"{name}.safetensors") if name in trained else None)
    assert common.untrained_message(["hrnet-w32"]) is None
    msg = common.untrained_message(["hrnet-w32", "hrgcnet-w32"])
    assert msg.startswith("Untrained weights: hrgcnet-w32 has no trained weights") and "hrnet-w32" not in msg


def test_example_images_and_labels():
    assert all(p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in common.example_images())
    assert common.label("hrgcnet-w32-table1") == "HRGCNet-W32 (Table I)" and common.size_text((256, 192)) == "256x192"


def test_pages_start_at_the_size_the_weights_were_trained_at(tmp_path, monkeypatch):
    import torch
    from safetensors.torch import save_file

    files = {"hrgcnet-w32": {"input_size": "128x96"}, "hrnet-w32": {"input_size": "64x64"}, "hrgcnet-w48": {}}
    for name, meta in files.items():
        save_file({"x": torch.zeros(1)}, str(tmp_path / f"{name}.safetensors"), metadata=meta)
    import hrgcnet.models.weights
    from hrgcnet.pipeline import trained_input_hw

    for module in (common, hrgcnet.models.weights):
        monkeypatch.setattr(module, "default_weights_path",
                            lambda name: tmp_path / f"{name}.safetensors" if name in files else None)
    assert trained_input_hw("hrgcnet-w32") == (128, 96)
    assert common.INPUT_SIZES[common.default_input_index("hrgcnet-w32")] == (128, 96)
    assert "trained at 128x96" in common.input_size_help("hrgcnet-w32")
    # a size the pages do not offer, no size in the metadata, no weights: the paper's 256x192
    for name in ("hrnet-w32", "hrgcnet-w48", "hrnet-w48"):
        assert common.INPUT_SIZES[common.default_input_index(name)] == (256, 192), name
    assert trained_input_hw("hrgcnet-w48") is None and "paper" in common.input_size_help("hrnet-w48")
