"""The committed default weights (hrgcnet/weights/*.safetensors): each loads strictly by name, carries its model
card metadata, and reaches the AP its metadata claims on the real COCO split it was measured on (val.json or
dev.json, as the metadata's ``val_ann`` says; pycocotools, ground-truth boxes, flip test)."""

from pathlib import Path

import pytest

from hrgcnet.evaluation.coco import evaluate_model
from hrgcnet.models import create_model, list_models
from hrgcnet.models.weights import default_weights_path, read_metadata
from hrgcnet.pipeline import PoseEstimator, parse_input_hw

COMMITTED = [name for name in list_models() if default_weights_path(name) is not None]


@pytest.mark.parametrize("name", COMMITTED or [pytest.param(None, marks=pytest.mark.skip(reason="no committed weights"))])
def test_committed_weights_reach_their_measured_ap(name, coco_val):
    ann, images = coco_val
    meta = read_metadata(default_weights_path(name))
    ann = Path(ann).with_name(Path(meta.get("val_ann", "val.json")).name)  # beside val.json: dev.json
    assert meta["model"] == name
    assert {"input_size", "ap", "val", "data", "steps"} <= set(meta)
    est = PoseEstimator(name, device="cpu", detector="full")  # by name, offline, no extra step
    assert not est.untrained and est.input_hw == parse_input_hw(meta["input_size"])
    summary, _ = evaluate_model(create_model(name, weights="default"), ann, images, est.input_hw, flip_test=True)
    # the metadata's AP was measured on the fp16 training weights; the committed file may be int8
    assert summary["AP"] >= meta["ap"] - 0.01, (summary, meta["ap"])
