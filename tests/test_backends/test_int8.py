"""The OpenVINO backend's int8 precision (hrgcnet.backends.int8): its calibration set, the quantized IR in the
cache with its metadata, and its refusals. Its accuracy on real crops is in test_openvino's guard tests."""

import numpy as np
import pytest

from hrgcnet.errors import UsageError

pytest.importorskip("nncf")


def test_the_calibration_set_is_the_example_photos_three_persons_jittered_and_mirrored():
    from hrgcnet.backends.int8 import CALIBRATION_IMAGE, _panels, calibration_crops
    from hrgcnet.io import load_image

    assert _panels(load_image(CALIBRATION_IMAGE)) == [(0, 384), (392, 776), (784, 1112)]
    crops = calibration_crops((128, 96), crops_per_person=5)
    assert crops.shape == (3 * 5 * 2, 3, 128, 96) and crops.dtype == np.float32
    np.testing.assert_array_equal(crops[1::2], crops[0::2, :, :, ::-1])  # each crop, then its mirror image
    assert len({crops[i].tobytes() for i in range(0, 10, 2)}) == 5  # one person, five different crops
    assert -2.2 < crops.min() < -1.5 and 1.5 < crops.max() < 2.7  # normalised: black and white pixels
    np.testing.assert_array_equal(crops, calibration_crops((128, 96), crops_per_person=5))


def test_int8_is_quantized_once_into_the_cache_with_its_provenance(cache):
    import openvino as ov

    from hrgcnet.backends.export import openvino_metadata
    from hrgcnet.backends.int8 import RECIPE
    from hrgcnet.io import load_image
    from hrgcnet.pipeline import PoseEstimator, cpu_supports_bf16

    est = PoseEstimator("hrnet-w32", backend="openvino", precision="int8", detector="full")
    assert "openvino (int8)" in est.backend_note and "exported on first use" in est.backend_note
    xml = next((cache / "openvino").glob(f"hrnet-w32-*-128x96-int8r{RECIPE}-ov*.xml"))
    meta = openvino_metadata(xml)
    assert meta["precision"] == "int8" and "three_people.jpg" in meta["calibration"]
    assert meta["model"] == "hrnet-w32" and int(meta["weights.samples_seen"]) > 0
    ops = [op.get_type_name() for op in ov.Core().read_model(str(xml)).get_ordered_ops()]
    assert ops.count("FakeQuantize") > 100
    again = PoseEstimator("hrnet-w32", backend="openvino", precision="int8", detector="full")
    assert "read from the cache" in again.backend_note and "precision=int8" in repr(again)
    # what NNCF left unquantized runs in bf16 where the CPU has it, in f32 elsewhere
    rest = again.fast_network.compiled.get_property("INFERENCE_PRECISION_HINT")
    assert rest == (ov.Type.bf16 if cpu_supports_bf16() else ov.Type.f32), rest
    image = load_image("assets/cameraman.jpg")
    box = np.array([[0, 0, image.shape[1], image.shape[0]]], float)
    ref = PoseEstimator("hrnet-w32", backend="torch", precision="fp32", detector="full")(image, boxes=box)
    res = again(image, boxes=box)
    scale = max(image.shape[:2])
    # the whole-body photo's confident keypoints land within 2% of the picture of torch fp32's
    confident = ref.keypoints[0, :, 2] > 0.5
    assert confident.sum() >= 10
    assert np.abs(res.keypoints[0, confident, :2] - ref.keypoints[0, confident, :2]).max() < 0.02 * scale


def test_int8_refusals(cache, monkeypatch):
    from hrgcnet.backends import int8
    from hrgcnet.pipeline import PoseEstimator

    with pytest.raises(UsageError, match="int8 runs on the openvino backend"):
        PoseEstimator("hrnet-w32", backend="torch", precision="int8", detector="full")
    with pytest.raises(UsageError, match="int8 runs on the openvino backend"):
        PoseEstimator("hrnet-w32", weights=None, backend="auto", precision="int8", detector="full")  # untrained
    monkeypatch.setattr(int8, "nncf_available", lambda: False)
    with pytest.raises(UsageError, match="pip install nncf"):
        int8.quantize_ir("any.xml", "out.xml", np.zeros((1, 3, 128, 96), np.float32))
    monkeypatch.setattr(int8, "CALIBRATION_IMAGE", int8.CALIBRATION_IMAGE.with_name("missing.jpg"))
    with pytest.raises(UsageError, match="missing: run from a checkout"):
        int8.calibration_crops((128, 96))


def test_the_app_runs_its_networks_in_int8_when_told(cache, monkeypatch, caplog):
    """``HRGCNET_APP_PRECISION=int8``: the app's shared networks run quantized at every input size; an untrained
    network, which cannot, runs at the automatic precision with a note; a bad value is logged and ignored."""
    from app import state

    monkeypatch.setenv("HRGCNET_APP_PRECISION", "int8 ")
    assert state.env_choice("HRGCNET_APP_PRECISION", "auto", ("auto", "int8")) == "int8"
    monkeypatch.setenv("HRGCNET_APP_PRECISION", "fp8")
    assert state.env_choice("HRGCNET_APP_PRECISION", "auto", ("auto", "int8")) == "auto"
    assert "HRGCNET_APP_PRECISION='fp8' is not one of auto, int8" in caplog.text
    monkeypatch.setattr(state, "PRECISION", "int8")
    monkeypatch.setenv("HRGCNET_BACKEND", "auto")
    models = state.ModelCache()
    full = models.detector("full")
    for size in ("128x96", "64x64"):
        est, loaded = models.estimator("hrnet-w32", full, size, flip_test=True)
        assert est.fast_network.precision == "int8" and not loaded.notes
    monkeypatch.setattr("hrgcnet.models.weights.default_weights_path", lambda name: None)
    untrained = models.model("hrgcnet-w32")
    assert untrained.untrained and untrained.estimator.fast_network is None
    assert any("precision int8 unavailable" in note for note in untrained.notes)


def test_export_writes_the_int8_ir_beside_the_f32_one(tmp_path, capsys):
    from hrgcnet.backends.export import openvino_metadata
    from hrgcnet.cli import main

    assert main(["export", "--model", "hrnet-w32", "--format", "onnx", "--int8", "--out", str(tmp_path)]) == 2
    assert "--int8 goes with --format openvino" in capsys.readouterr().err
    assert main(["export", "--model", "hrnet-w32", "--format", "openvino", "--int8", "--input-size", "64x64",
                 "--out", str(tmp_path)]) == 0
    assert "(int8)" in capsys.readouterr().out
    meta = openvino_metadata(tmp_path / "hrnet-w32-64x64-int8.xml")
    assert meta["precision"] == "int8" and meta["input_size"] == "64x64"
    assert (tmp_path / "hrnet-w32-64x64.xml").is_file() and (tmp_path / "hrnet-w32-64x64-int8.bin").is_file()
