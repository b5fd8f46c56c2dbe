import pytest
import torch

from hrgcnet.errors import UsageError
from hrgcnet.models import capture_gc_attention, create_model, gc_blocks, list_models
from hrgcnet.models.profile import count_params


@pytest.fixture(scope="module")
def built():
    torch.manual_seed(0)
    return {name: create_model(name).eval() for name in list_models()}


def test_exact_parameter_counts(built):
    assert count_params(built["hrnet-w32"]) == 28_536_113
    assert round(count_params(built["hrnet-w48"]) / 1e6, 1) == 63.6
    # text preset: + DWS in stage 1 (-128,768 + 512 BN) + GC r=1/4 on 256 ch x4 + GC r=1/4 on 32 ch x32
    assert count_params(built["hrgcnet-w32"]) == 28_536_113 - 4 * (64 * 64 * 9 - 64 * 9 - 64 * 64 - 128) + 4 * 33_473 + 32 * 601
    # table1 preset reproduces Table I's 29.6M
    assert count_params(built["hrgcnet-w32-table1"]) == 29_600_801


OFFICIAL_KEYS = [  # names from the official pose_hrnet.py (reference notes)
    "conv1.weight", "bn1.running_var", "conv2.weight", "bn2.weight", "layer1.0.conv1.weight", "layer1.0.conv2.weight",
    "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_mean", "layer1.3.bn3.bias",
    "transition1.0.0.weight", "transition1.1.0.0.weight", "transition2.2.0.0.weight", "transition3.3.0.0.weight",
    "stage2.0.branches.0.0.conv1.weight", "stage2.0.branches.1.3.bn2.num_batches_tracked",
    "stage2.0.fuse_layers.0.1.0.weight", "stage2.0.fuse_layers.1.0.0.0.weight",
    "stage3.3.fuse_layers.2.0.1.0.weight", "stage3.3.fuse_layers.2.0.0.1.weight",
    "stage4.2.branches.3.3.conv2.weight", "stage4.2.fuse_layers.0.3.0.weight", "final_layer.weight", "final_layer.bias",
]


def test_official_state_dict_names(built):
    keys = set(built["hrnet-w32"].state_dict())
    missing = [k for k in OFFICIAL_KEYS if k not in keys]
    assert not missing
    # transitions that keep a branch are None: no transition1.0 beyond the channel change, no transition2.0/1
    assert not any(k.startswith(("transition2.0.", "transition2.1.", "transition3.0.")) for k in keys)
    # the last stage-4 module fuses to the high-resolution branch only
    assert not any(k.startswith("stage4.2.fuse_layers.1.") for k in keys)
    assert any(k.startswith("stage4.1.fuse_layers.3.") for k in keys)


@pytest.mark.parametrize("input_hw", [(256, 192), (384, 288)])
def test_forward_shapes_every_model(built, input_hw):
    x = torch.randn(1, 3, *input_hw)
    with torch.no_grad():
        for name, model in built.items():
            out = model(x)
            assert out.shape == (1, 17, input_hw[0] // 4, input_hw[1] // 4), name
            assert torch.isfinite(out).all(), name


def test_other_multiples_of_32_and_bad_inputs(built):
    model = built["hrgcnet-w32"]
    with torch.no_grad():
        assert model(torch.randn(2, 3, 128, 96)).shape == (2, 17, 32, 24)
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 17, 16, 16)
        with pytest.raises(ValueError, match="multiples of 32"):
            model(torch.randn(1, 3, 100, 96))


def test_gc_placement_of_presets(built):
    text = gc_blocks(built["hrgcnet-w32"])
    assert [n for n in text if n.startswith("stage1")] == [f"stage1.block{i}" for i in range(4)]
    assert all(".branch0." in n for n in text if not n.startswith("stage1"))
    assert len(text) == 4 + (1 + 4 + 3) * 4
    table1 = gc_blocks(built["hrgcnet-w32-table1"])
    assert len(table1) == 3 * 4 * 4 and all(n.startswith("stage4.") for n in table1)
    assert {b.ratio for b in table1.values()} == {0.5}
    assert gc_blocks(built["hrnet-w32"]) == {}


def test_capture_attention_maps(built):
    model = built["hrgcnet-w32"]
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        plain = model(x)
        with capture_gc_attention(model) as maps:
            captured = model(x)
        after = model(x)
    torch.testing.assert_close(plain, captured, rtol=0, atol=0)
    assert len(maps) == len(gc_blocks(model))
    assert maps["stage1.block0"].shape == (2, 32, 24)
    assert maps["stage3.module2.branch0.block1"].shape == (2, 32, 24)
    for alpha in maps.values():
        torch.testing.assert_close(alpha.sum(dim=(1, 2)), torch.ones(2))
    assert all(b.attention_sink is None for b in gc_blocks(model).values())
    torch.testing.assert_close(plain, after, rtol=0, atol=0)


def test_hrgcnet_starts_as_its_base_network():
    # Zero-initialised GC blocks: at init, HRGCNet-table1 computes exactly HRNet with the same weights.
    torch.manual_seed(0)
    hrnet = create_model("hrnet-w32").eval()
    table1 = create_model("hrgcnet-w32-table1").eval()
    table1.load_state_dict(hrnet.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(table1(x), hrnet(x))


def test_unknown_model_name():
    with pytest.raises(UsageError, match="unknown model 'hrnet-w99'"):
        create_model("hrnet-w99")
