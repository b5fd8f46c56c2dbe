"""The OpenVINO backend and the exports: metadata, folded BatchNorm, dynamic batch, and the accuracy guard on
real crops of coco/dev.json (keypoints within 1 px of torch fp32 at the input resolution for >= 99% of them; AP
within 0.005)."""

import json

import numpy as np
import pytest
import torch

from hrgcnet.backends import resolve_backend
from hrgcnet.errors import UsageError

MODELS = ("hrnet-w32", "hrgcnet-w32")


def test_auto_means_openvino_on_a_trained_cpu_network_only():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_backend("auto", cpu) == "openvino"
    assert resolve_backend("auto", cpu, untrained=True) == "torch"
    assert resolve_backend("auto", cuda) == "torch"
    assert resolve_backend("torch", cpu) == "torch"
    with pytest.raises(UsageError, match="runs on the CPU"):
        resolve_backend("openvino", cuda)
    with pytest.raises(UsageError, match="backend must be one of"):
        resolve_backend("tensorrt", cpu)


def test_exports_carry_metadata_fold_batchnorm_and_take_any_batch(tmp_path, capsys):
    import onnx
    import openvino as ov

    from hrgcnet.backends.export import onnx_metadata, openvino_metadata
    from hrgcnet.cli import main
    from hrgcnet.models import create_model
    from hrgcnet.models.weights import default_weights_path

    for fmt in ("onnx", "openvino"):
        assert main(["export", "--model", "hrgcnet-w32", "--format", fmt, "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    onnx_path, xml = tmp_path / "hrgcnet-w32-128x96.onnx", tmp_path / "hrgcnet-w32-128x96.xml"
    ops = {node.op_type for node in onnx.load(str(onnx_path)).graph.node}
    assert "BatchNormalization" not in ops and "Conv" in ops and "Softmax" in ops  # folded; GC blocks kept
    for meta in (onnx_metadata(onnx_path), openvino_metadata(xml)):
        assert meta["model"] == "hrgcnet-w32" and meta["input_size"] == "128x96"
        assert json.loads(meta["mean"]) == [123.675, 116.28, 103.53]
        assert int(meta["weights.samples_seen"]) > 0 and float(meta["weights.ap"]) > 0.1
    model = create_model("hrgcnet-w32", weights=default_weights_path("hrgcnet-w32")).eval()
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for batch in (1, 3):
        x = torch.randn(batch, 3, 128, 96)
        with torch.inference_mode():
            ref = model(x).numpy()
        out = compiled(x.numpy())[0]
        assert out.shape == ref.shape == (batch, 17, 32, 24)
        assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()


def test_the_cache_exports_once(cache):
    from hrgcnet.pipeline import PoseEstimator

    first = PoseEstimator("hrnet-w32", backend="openvino", detector="full")
    assert "exported on first use" in first.backend_note and str(cache) in first.backend_note
    again = PoseEstimator("hrnet-w32", backend="openvino", detector="full")
    assert "read from the cache" in again.backend_note
    assert "backend='openvino'" in repr(again)


def test_the_compiled_network_gives_the_gc_attention_of_the_torch_network(cache, monkeypatch):
    """A GC network is compiled with every block's α as outputs: attention maps come from the same forward as the
    heatmaps (no torch pass), equal to the torch network's; a network without them falls back to a torch pass."""
    from hrgcnet.io import load_image
    from hrgcnet.pipeline import PoseEstimator

    image = load_image("assets/three_people.jpg")
    boxes = np.array([[10, 20, 200, 400], [150, 30, 400, 420], [300, 10, 520, 400.0]])
    fast = PoseEstimator("hrgcnet-w32", backend="openvino", precision="fp32", detector="full")
    ref = PoseEstimator("hrgcnet-w32", backend="torch", precision="fp32", detector="full")(
        image, boxes=boxes, return_attention=True)
    assert len(fast.fast_network.attention_names) == 36
    torch_passes = []
    forward = fast._forward
    monkeypatch.setattr(fast, "_forward", lambda x: torch_passes.append(x) or forward(x))
    res = fast(image, boxes=boxes, return_attention=True)
    assert not torch_passes and set(res.attention) == set(ref.attention)
    for name, alpha in res.attention.items():
        assert alpha.shape == ref.attention[name].shape and np.abs(alpha - ref.attention[name]).max() < 1e-5, name
    assert np.abs(res.keypoints - ref.keypoints).max() < 1e-2
    monkeypatch.setattr(fast.fast_network, "attention_names", [])  # e.g. an IR exported without them
    assert len(fast(image, boxes=boxes, return_attention=True).attention) == 36 and len(torch_passes) == 1



def test_auto_compiles_the_stem_in_f32_and_the_rest_in_bf16_where_the_cpu_has_bf16(cache):
    """``auto`` on a CPU with native bf16: two graphs (the stem in f32, stages 1-4 in bf16) chained, with the GC
    attention of every block, and the final layer in torch fp32 (unrounded heatmaps); elsewhere one f32 graph.
    The split network computes what the whole one does."""
    from hrgcnet.backends.openvino import MixedNetwork, OpenVINONetwork, inference_precision
    from hrgcnet.models import create_model
    from hrgcnet.pipeline import PoseEstimator, cpu_supports_bf16

    est = PoseEstimator("hrgcnet-w32", backend="openvino", detector="full")
    if cpu_supports_bf16():
        net = est.fast_network
        assert isinstance(net, MixedNetwork) and "the stem and the final layer in f32" in est.backend_note
        assert net.stem.precision == "f32" and net.body.precision == "bf16"
        assert net.head.weight.dtype == torch.float32
        heatmaps = net(torch.randn(2, 3, 128, 96)).numpy()
        assert heatmaps.shape == (2, 17, 32, 24) and (heatmaps.view(np.uint32) & 0xFFFF).any()  # not bf16-rounded
        assert est.fast_network.attention_names[0].startswith("stage1.") and len(est.fast_network.attention_names) == 36
    else:
        assert isinstance(est.fast_network, OpenVINONetwork) and est.fast_network.precision == "f32"
    assert inference_precision("fp32") == "f32" and inference_precision("bf16") == "bf16"
    model = create_model("hrgcnet-w32", weights="default").eval()
    x = torch.randn(2, 3, 128, 96)
    with torch.inference_mode():
        features = model.forward_body(model.forward_stem(x))
        assert torch.allclose(model.final_layer(features), model(x))

@pytest.fixture(scope="module")
def dev_predictions(cache, shared_data):
    """Per model and backend (torch fp32; OpenVINO at its automatic precision, fp32, and in bf16; for the default
    model also int8 where NNCF is installed): the keypoints of every dev.json person's crop, in input pixels
    ``(P, 17, 3)`` and as COCO results (image pixels, score = mean keypoint score)."""
    from hrgcnet.backends.int8 import nncf_available
    from hrgcnet.evaluation.coco import load_coco_gt, predict_labelled_crops
    from hrgcnet.pipeline import PoseEstimator

    coco = load_coco_gt(shared_data / "coco" / "dev.json")
    out = {}
    for model in MODELS:
        int8 = [("openvino", "int8")] if model == "hrgcnet-w32" and nncf_available() else []
        for backend, precision in [("torch", "fp32"), ("openvino", "auto"), ("openvino", "fp32"), ("openvino", "bf16")] + int8:
            est = PoseEstimator(model, backend=backend, precision=precision, detector="full")
            in_crop, results, _ = predict_labelled_crops(est, coco, shared_data / "coco" / "images")
            out[model, backend if precision == "auto" else f"{backend} {precision}"] = in_crop, results
    return coco, out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("model", MODELS)
def test_openvino_keypoints_agree_with_torch_fp32_on_real_crops(dev_predictions, model):
    """The default meets the guard: the stem and the final layer in f32 and stages 1-4 in bf16 where the CPU has
    native bf16 (measured with the committed weights on an AMX Xeon: 99.42% / 99.39% within 1 px for hrnet-w32 /
    hrgcnet-w32; with stage 1 in f32 too, 99.45% / 99.60% there and 99.39% / 99.51% on an AVX-512 EPYC; with the
    final layer in bf16, 98.96% / 99.19% on that EPYC, which failed this test), else f32 (100%).
    bf16 throughout does not (97.6% / 98.6% within 1 px, 98.7% / 99.1% within 2 px on that EPYC; 98.8% / 98.3% and
    99.1% / 98.9% on an AMX Xeon with the 2026-12-01 weights), so it is held to what was measured."""
    _, out = dev_predictions
    ref = out[model, "torch fp32"][0]
    assert len(ref) == 204
    distance = {b: np.linalg.norm(out[model, b][0][..., :2] - ref[..., :2], axis=-1)  # input pixels
                for b in ("openvino", "openvino fp32", "openvino bf16")}
    for b in ("openvino", "openvino fp32"):
        assert (distance[b] <= 1).mean() >= 0.99, f"{model}, {b}: {(distance[b] <= 1).mean():.4f}"
    assert (distance["openvino bf16"] <= 1).mean() >= 0.97 and (distance["openvino bf16"] <= 2).mean() >= 0.98


@pytest.mark.parametrize("model", MODELS)
def test_openvino_ap_on_dev_is_within_0005_of_torch_fp32(dev_predictions, model):
    from hrgcnet.evaluation.coco import evaluate_coco

    coco, out = dev_predictions
    ap = {b: evaluate_coco(out[model, b][1], coco)["AP"]
          for b in ("torch fp32", "openvino", "openvino fp32", "openvino bf16")}
    assert all(abs(v - ap["torch fp32"]) <= 0.005 for v in ap.values()), ap


def test_int8_is_held_to_what_was_measured(dev_predictions):
    """int8 (opt-in, never ``auto``) misses the guard, so it is held to what was measured with the committed
    weights on an AVX-512 EPYC: hrgcnet-w32 89.97% of the keypoints within 1 px of torch fp32 (93.85% of the
    labelled ones), 94.81% within 2 px, dev.json AP 0.2568 against 0.2615 (-0.0047; hrnet-w32: 90.08%, 94.75%,
    AP +0.0023)."""
    from hrgcnet.evaluation.coco import evaluate_coco

    coco, out = dev_predictions
    if ("hrgcnet-w32", "openvino int8") not in out:
        pytest.skip("NNCF is not installed")
    ref = out["hrgcnet-w32", "torch fp32"]
    distance = np.linalg.norm(out["hrgcnet-w32", "openvino int8"][0][..., :2] - ref[0][..., :2], axis=-1)
    assert (distance <= 1).mean() >= 0.87 and (distance <= 2).mean() >= 0.93, (distance <= 1).mean()
    ap, ap_ref = (evaluate_coco(out["hrgcnet-w32", b][1], coco)["AP"] for b in ("openvino int8", "torch fp32"))
    assert abs(ap - ap_ref) <= 0.01, (ap, ap_ref)


def test_cli_eval_and_predict_take_a_backend(cache, coco_val, tmp_path, capsys):
    from hrgcnet.cli import main

    ann, _ = coco_val
    assert main(["eval", "--ann", str(ann), "--model", "hrnet-w32", "--backend", "openvino", "--max-images", "2",
                 "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "openvino" in captured.err and json.loads(captured.out.splitlines()[-1])["AP"] is not None
    assert main(["eval", "--ann", str(ann), "--results", str(tmp_path / "r.json"), "--backend", "torch"]) == 2
    assert "--backend only apply when a model runs" in capsys.readouterr().err


def test_the_app_runs_the_compiled_network_per_input_size(cache, monkeypatch):
    """The app's shared model cache: with the automatic backend, each input size gets its compiled network once;
    the result is the same as the estimator's own."""
    from app.state import ModelCache

    monkeypatch.setenv("HRGCNET_BACKEND", "auto")
    models = ModelCache()
    image = np.random.default_rng(0).integers(0, 255, (240, 180, 3), dtype=np.uint8)
    full = models.detector("full")
    for size in ("128x96", "64x64"):
        est, loaded = models.estimator("hrnet-w32", full, size, flip_test=True)
        assert est.backend == "openvino" and est.fast_network is models.estimator("hrnet-w32", full, size, True)[0] \
            .fast_network
        with loaded.lock:
            res = est(image)
        assert res.keypoints.shape == (1, 17, 3)
    assert sorted(loaded.fast) == [(64, 64), (128, 96)]
    assert loaded.fast[128, 96] is loaded.estimator.fast_network  # the default size: the estimator's own


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_nanodet_on_openvino_finds_what_torch_finds(cache, coco_val, precision):
    """The detector on OpenVINO (exported once per letterbox shape into the cache): fp32 gives torch's boxes;
    bf16 (the default where the CPU has it: on dev.json its box AP was 0.4045 vs torch's 0.4041) the same
    persons, within a pixel or two. Boxes are matched, not compared in score order: on an AVX-512 EPYC two of the
    baseball photo's 28 boxes with scores 0.002 apart swapped places in bf16."""
    from pathlib import Path

    from hrgcnet.detectors import nanodet as nd
    from hrgcnet.io import load_image
    from hrgcnet.pipeline import cpu_supports_bf16

    if precision == "bf16" and not cpu_supports_bf16():
        pytest.skip("no native bf16 on this CPU")
    nd._openvino_network.cache_clear()
    _, images = coco_val
    photos = [load_image(Path(__file__).resolve().parents[2] / "assets" / "three_people.jpg"),
              load_image(images / "000000217285.jpg")]  # a wide picture, and baseball: 3 players + stands
    torch_det = nd.NanoDetDetector(min_score=0.3, backend="torch")
    ov_det = nd.NanoDetDetector(min_score=0.3, backend="openvino", precision=precision)
    for photo in photos:
        ref, out = torch_det(photo), ov_det(photo)
        assert len(out) == len(ref) >= 3
        tol = 0.5 if precision == "fp32" else 4.0
        # each torch box's closest OpenVINO box (largest coordinate difference), one to one
        gap = np.abs(ref.boxes[:, None, :] - out.boxes[None, :, :]).max(-1)  # (N_ref, N_out)
        match = gap.argmin(1)
        assert len(set(match.tolist())) == len(ref), "two torch boxes matched the same OpenVINO box"
        assert gap[np.arange(len(ref)), match].max() <= tol
        np.testing.assert_allclose(out.box_scores[match], ref.box_scores, atol=1e-4 if precision == "fp32" else 0.03)
    exported = sorted(p.name for p in (cache / "openvino").glob("nanodet-g-*.xml"))
    assert [name.split("-")[3] for name in exported] == ["192x512", "352x512"]  # one per letterbox shape


def test_the_estimator_runs_nanodet_where_it_runs_the_network(cache):
    from hrgcnet.pipeline import PoseEstimator

    assert PoseEstimator("hrgcnet-w32", detector="nanodet", backend="torch").detector.backend == "torch"
    assert PoseEstimator("hrgcnet-w32", detector="nanodet", backend="openvino").detector.backend == "openvino"
