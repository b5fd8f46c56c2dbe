import numpy as np
import pytest
import torch

from hrgcnet.codecs import MSRAHeatmap
from hrgcnet.data import (AugmentConfig, DataSpec, ImageCache, KeypointDataset, build_mixed_dataset,
                          load_records, normalize_images)
from hrgcnet.structures.bbox import get_affine_transform, transform_points
from hrgcnet.structures import FLIP_INDICES, IMAGENET_MEAN, IMAGENET_STD


def recovered_keypoints(sample: dict, input_hw, image_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode a sample's targets back to the original image: ``(K, 2)`` pixels and a mask of checkable keypoints."""
    heatmap_hw = (input_hw[0] // 4, input_hw[1] // 4)
    codec = MSRAHeatmap(input_hw, heatmap_hw)
    hm = sample["heatmaps"].numpy()[None]
    coords, _ = codec.decode(hm)
    crop_xy = coords[0] * codec.stride
    inv = get_affine_transform(sample["center"].numpy(), sample["scale"].numpy(), sample["rotation"],
                               (input_hw[1], input_hw[0]), inv=True)
    xy = transform_points(crop_xy, inv)
    w = sample["target_weight"].numpy() > 0
    # Only peaks strictly inside the heatmap are exact (a Gaussian cut by the border peaks at the border).
    inside = (coords[0, :, 0] > 0) & (coords[0, :, 0] < heatmap_hw[1] - 1) & \
             (coords[0, :, 1] > 0) & (coords[0, :, 1] < heatmap_hw[0] - 1)
    ok = w & inside
    if sample["flipped"]:
        # Channel k holds original keypoint FLIP_INDICES[k], mirrored in the image.
        xy[:, 0] = image_width - 1 - xy[:, 0]
        out_xy, out_ok = np.empty_like(xy), np.empty_like(ok)
        out_xy[list(FLIP_INDICES)], out_ok[list(FLIP_INDICES)] = xy, ok
        xy, ok = out_xy, out_ok
    return xy, ok


@pytest.mark.parametrize("augment", [None, AugmentConfig(), AugmentConfig(flip_prob=1.0, rotation_prob=1.0)])
def test_targets_map_back_to_the_labels(small_coco, augment):
    ann, images = small_coco
    input_hw = (128, 96)
    records = load_records(DataSpec(str(ann), str(images)))
    ds = KeypointDataset(records, input_hw, augment=augment)
    checked = 0
    flips = 0
    for i in range(len(ds)):
        for seed in range(4):
            sample = ds[(i, seed)]
            rec = ds.records[i]
            assert sample["image"].shape == (3, 128, 96) and sample["image"].dtype == torch.uint8
            assert sample["heatmaps"].shape == (17, 32, 24) and sample["target_weight"].shape == (17,)
            labelled = rec.keypoints[:, 2] > 0
            assert not (sample_weights_of_original(sample) & ~labelled).any()  # unlabelled -> weight 0
            xy, ok = recovered_keypoints(sample, input_hw, rec.width)
            # Tolerance: half a heatmap pixel per axis, in image pixels.
            px_per_image_px = input_hw[1] / (sample["scale"][0].item() * 200)
            tol = 0.5 * np.sqrt(2) * 4 / px_per_image_px + 1e-6
            err = np.linalg.norm(xy[ok] - rec.keypoints[ok, :2], axis=1)
            assert (err <= tol).all(), (err, tol)
            checked += ok.sum()
            flips += sample["flipped"]
    assert checked > 50
    if augment is not None and augment.flip_prob == 1.0:
        assert flips == 4 * len(ds)


def sample_weights_of_original(sample: dict) -> np.ndarray:
    w = sample["target_weight"].numpy() > 0
    if sample["flipped"]:
        out = np.empty_like(w)
        out[list(FLIP_INDICES)] = w
        return out
    return w


def test_same_seed_same_sample_and_integer_index(small_coco):
    ann, images = small_coco
    ds = KeypointDataset(load_records(DataSpec(str(ann), str(images))), (64, 64), augment=AugmentConfig(), seed=5)
    a, b, c = ds[(1, 123)], ds[(1, 123)], ds[(1, 124)]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["heatmaps"], b["heatmaps"])
    assert not torch.equal(a["image"], c["image"])
    assert torch.equal(ds[1]["image"], ds[(1, 5 + 1)]["image"])


def test_pseudo_label_weights_reach_the_targets(lspet_train):
    ds, sizes, weights = build_mixed_dataset(
        [DataSpec(str(lspet_train), teacher_face_min_score=0.5, teacher_face_weight=0.5)], (128, 96))
    i = next(i for i, r in enumerate(ds.records) if r.weights[0] > 0)
    tw = ds[i]["target_weight"].numpy()
    assert tw[0] == 0.5 and set(np.unique(tw)) <= {0.0, 0.5, 1.0}
    assert sizes == [len(ds)] and weights == [1.0]


def test_cache_with_downscale_gives_the_same_targets(small_coco):
    ann, images = small_coco
    records = load_records(DataSpec(str(ann), str(images)))
    plain = KeypointDataset(records, (128, 96))
    cache = ImageCache(max_side=320)
    cache.preload([r.image_path for r in records])
    assert len(cache) == 3 and cache.nbytes > 0
    small = KeypointDataset(records, (128, 96), cache=cache)
    for i in range(len(records)):
        a, b = plain[i], small[i]
        # Crops differ by resampling only; the targets are the same Gaussians up to rounding.
        assert torch.allclose(a["center"], b["center"]) and torch.allclose(a["scale"], b["scale"])
        assert np.array_equal(a["target_weight"].numpy() > 0, b["target_weight"].numpy() > 0)
        peak_a = a["heatmaps"].flatten(1).argmax(1)
        peak_b = b["heatmaps"].flatten(1).argmax(1)
        assert (peak_a == peak_b)[a["target_weight"] > 0].float().mean() > 0.8
        diff = (a["image"].float() - b["image"].float()).abs().mean()
        assert diff < 12


def test_normalize_images():
    x = torch.randint(0, 256, (2, 3, 8, 6), dtype=torch.uint8)
    y = normalize_images(x)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(y, (x.float() / 255 - mean) / std, atol=1e-5)
    cl = normalize_images(x.contiguous(memory_format=torch.channels_last))
    assert cl.is_contiguous(memory_format=torch.channels_last)


def test_downscale_maps_pixel_centres_exactly():
    """A point of the stored image lands at ``(p - origin) * zoom`` in the cached one, per axis (the mean factor
    ``x * f`` is off by up to half a cached pixel)."""
    from hrgcnet.data.images import downscale

    image = np.zeros((301, 401, 3), np.uint8)
    image[100:104, 200:204] = 255  # a 4x4 block centred at x 201.5, y 101.5
    small, origin, zoom = downscale(image, 100)
    assert small.shape[:2] == (75, 100) and zoom.tolist() == [100 / 401, 75 / 301]
    ys, xs = np.mgrid[:small.shape[0], :small.shape[1]]
    mass = small[..., 0].astype(np.float64)
    centroid = np.array([(xs * mass).sum(), (ys * mass).sum()]) / mass.sum()
    np.testing.assert_allclose(centroid, (np.array([201.5, 101.5]) - origin) * zoom, atol=0.02)
    same, origin, zoom = downscale(image, 401)
    assert same is image and origin.tolist() == [0, 0] and zoom.tolist() == [1, 1]
