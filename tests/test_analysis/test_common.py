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
