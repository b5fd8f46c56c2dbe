import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hrgcnet.cli import main
from hrgcnet.config import load_config
from hrgcnet.data import AugmentConfig, DataSpec, KeypointDataset, load_records
from hrgcnet.data.pack import pack_keypoint_file, pack_region
from hrgcnet.errors import DatasetError

INPUT_HW = (128, 96)


def person(ann_id: int, image_id: int, box, rng: np.random.Generator, **extra) -> dict:
    x, y, w, h = box
    kpts = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17), np.full(17, 2.0)], axis=1)
    kpts[[1, 2]] = 0  # unlabelled keypoints stay (0, 0, 0)
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": list(box),
            "area": w * h * 0.6, "keypoints": kpts.reshape(-1).round(2).tolist(), "num_keypoints": 15, **extra}


@pytest.fixture
def synthetic_coco(tmp_path: Path) -> tuple[Path, Path]:
    """Two textured images, three persons: one inside, one crossing the border, one with teacher face points."""
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    images = []
    for image_id, (h, w) in ((1, (300, 400)), (2, (240, 180))):
        noise = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 3)
        img = np.clip((noise - noise.mean()) * 4 + 128, 0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "images" / f"{image_id}.png"), img)
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": w, "height": h, "stretched": False})
    teacher = np.zeros((17, 3))
    teacher[:5] = [[70, 40, 0.9], [75, 35, 0.8], [65, 35, 0.8], [80, 38, 0.4], [60, 38, 0.7]]
    anns = [person(10, 1, (150, 60, 90, 200), rng), person(11, 1, (330, 100, 80, 190), rng),
            person(12, 2, (40, 30, 60, 150), rng, teacher_keypoints=teacher.reshape(-1).tolist(), teacher_oks=0.8,
                   teacher_lr_swap=False)]
    anns[2]["keypoints"][:15] = [0] * 15  # no face labels: the teacher's fill them
    ann = tmp_path / "train.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    return ann, tmp_path / "images"


def test_packed_samples_match_the_original(synthetic_coco, tmp_path):
    ann, images = synthetic_coco
    augment = AugmentConfig(rotation_prob=1.0)
    # A density this high keeps the stored pixels (crops are never enlarged), so only the JPEG differs.
    stats = pack_keypoint_file(DataSpec(str(ann), str(images)), tmp_path / "packed", INPUT_HW, augment, density=4,
                               quality=100)
    assert stats.persons == 3
    assert all(json.loads(stats.ann.read_text())["images"][i]["packed_from"]["zoom"] == [1, 1] for i in range(3))
    spec = dict(teacher_face_min_score=0.5, teacher_face_weight=0.5)
    original = KeypointDataset(load_records(DataSpec(str(ann), str(images), **spec)), INPUT_HW, augment=augment)
    packed = KeypointDataset(load_records(DataSpec(str(stats.ann), **spec)), INPUT_HW, augment=augment)
    assert [r.ann_id for r in packed.records] == [r.ann_id for r in original.records]
    flips = 0
    for i in range(3):
        for seed in range(8):
            a, b = original[(i, seed)], packed[(i, seed)]
            assert a["rotation"] == b["rotation"] and a["flipped"] == b["flipped"]
            flips += a["flipped"]
            np.testing.assert_array_equal(a["target_weight"].numpy(), b["target_weight"].numpy())
            np.testing.assert_allclose(a["heatmaps"].numpy(), b["heatmaps"].numpy(), atol=2e-3)
            diff = np.abs(a["image"].numpy().astype(int) - b["image"].numpy().astype(int))
            # JPEG (quality 100, 4:2:0 colour) costs ~1.4 levels here; half a pixel off costs ~3.8.
            assert diff.mean() < 2.5, diff.mean()
    assert 0 < flips < 24
    # The teacher's face points became half-weight labels in both.
    assert (packed.records[2].weights[[0, 1, 2, 4]] == 0.5).all() and packed.records[2].weights[3] == 0


def test_annotations_are_mapped_into_the_crop(synthetic_coco, tmp_path):
    ann, images = synthetic_coco
    stats = pack_keypoint_file(DataSpec(str(ann), str(images)), tmp_path / "packed", INPUT_HW, AugmentConfig())
    data = json.loads(stats.ann.read_text())
    src = {a["id"]: a for a in json.loads(ann.read_text())["annotations"]}
    for img, out in zip(data["images"], data["annotations"]):
        assert img["id"] == out["image_id"] == out["id"] and (stats.ann.parent / "images" / img["file_name"]).is_file()
        origin, zoom = np.array(img["packed_from"]["origin"]), np.array(img["packed_from"]["zoom"])
        before = np.array(src[out["id"]]["keypoints"]).reshape(17, 3)
        after = np.array(out["keypoints"]).reshape(17, 3)
        labelled = before[:, 2] > 0
        np.testing.assert_allclose(after[labelled, :2], (before[labelled, :2] - origin) * zoom, atol=0.01)
        assert (after[~labelled] == 0).all()
        assert 0 <= after[labelled, 0].min() and after[labelled, 0].max() < img["width"]
    # Person 11 crosses the right border: its box is clipped to the image before packing.
    rec = {r.ann_id: r for r in load_records(DataSpec(str(ann), str(images)))}[11]
    img11 = next(i for i in data["images"] if i["id"] == 11)
    x0 = np.array(img11["packed_from"]["origin"])
    bbox = next(a for a in data["annotations"] if a["id"] == 11)["bbox"]
    assert bbox[0] + bbox[2] - 1 == pytest.approx((rec.box[2] - x0[0]) * img11["packed_from"]["zoom"][0], abs=0.01)


def test_density_shrinks_the_crops_but_keeps_the_targets(synthetic_coco, tmp_path):
    ann, images = synthetic_coco
    full = pack_keypoint_file(DataSpec(str(ann), str(images)), tmp_path / "full", INPUT_HW, AugmentConfig())
    small = pack_keypoint_file(DataSpec(str(ann), str(images)), tmp_path / "small", INPUT_HW, AugmentConfig(),
                               density=0.5)
    assert small.jpeg_bytes < full.jpeg_bytes
    a = KeypointDataset(load_records(DataSpec(str(full.ann))), INPUT_HW)
    b = KeypointDataset(load_records(DataSpec(str(small.ann))), INPUT_HW)
    for i in range(len(a)):
        assert b.records[i].height < a.records[i].height
        # Same person, same place in the crop: the targets agree to a fraction of a heatmap pixel.
        np.testing.assert_allclose(a[i]["heatmaps"].numpy(), b[i]["heatmaps"].numpy(), atol=0.05)


def test_region_holds_the_augmented_box():
    region = pack_region(np.array([100.0, 100.0, 160.0, 260.0]), INPUT_HW, AugmentConfig())
    # Padded box 160 x 1.25 = 200 high, 150 wide; x1.35 for scale; rotated 45 degrees: (150 + 200) / sqrt 2.
    side = (150 + 200) / np.sqrt(2) * 1.35
    np.testing.assert_allclose(region, [130 - side / 2, 180 - side / 2, 130 + side / 2, 180 + side / 2])
    no_rotation = pack_region(np.array([100.0, 100.0, 160.0, 260.0]), INPUT_HW, AugmentConfig(rotation_prob=0))
    np.testing.assert_allclose(no_rotation[2:] - no_rotation[:2], [150 * 1.35, 200 * 1.35])


def test_bad_settings_are_refused(synthetic_coco, tmp_path):
    ann, images = synthetic_coco
    with pytest.raises(DatasetError, match="density"):
        pack_keypoint_file(DataSpec(str(ann), str(images)), tmp_path, INPUT_HW, AugmentConfig(), density=0)
    with pytest.raises(DatasetError, match="quality"):
        pack_keypoint_file(DataSpec(str(ann), str(images)), tmp_path, INPUT_HW, AugmentConfig(), quality=101)
    data = json.loads(ann.read_text())
    del data["annotations"][0]["id"]
    ann.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="'id' on every annotation"):
        pack_keypoint_file(DataSpec(str(ann), str(images)), tmp_path, INPUT_HW, AugmentConfig())


def test_cli_writes_a_config_that_trains_on_the_packed_files(synthetic_coco, tmp_path, capsys):
    ann, images = synthetic_coco
    out = tmp_path / "pack"
    args = ["pack", "--set", f"train_data=[{{ann: {ann}, images: {images}}}]", "--set", "input_size=128x96",
            "--out", str(out), "--density", "0.5", "--no-progress"]
    assert main(args) == 0
    config = load_config(str(out / "config.yaml"))
    assert config.val_ann is None and config.input_hw == INPUT_HW
    assert [d.ann for d in config.train_data] == [str(out / f"0-{ann.parent.name}" / "train.json")]
    assert len(load_records(config.train_data[0])) == 3
    assert "3 persons" in capsys.readouterr().out
    assert main(args) == 2  # the folder is not empty now
    assert "not empty" in capsys.readouterr().err
