import pytest

from hrgcnet.analysis.complexity import (block_map, breakdown, complexity_table, count_macs_meta, meta_model, paper_points,
                                         part_of, profile_fast, stage_summary)
from hrgcnet.models import create_model
from hrgcnet.models.profile import count_macs, count_params


def test_meta_counts_equal_the_library_counts():
    # hrgcnet-w32 has every block kind: lightweight bottlenecks, GC blocks, BasicBlocks
    model = create_model("hrgcnet-w32")
    expected = count_macs(model, (64, 64))
    total, per = count_macs_meta(meta_model("hrgcnet-w32"), (64, 64))
    assert total == expected
    assert per[""] == expected
    assert profile_fast("hrgcnet-w32", (64, 64))["params"] == count_params(model)


def test_official_hrnet_w32_row():
    (row,) = complexity_table(((256, 192),), names=["hrnet-w32"])
    assert row["params"] == 28_536_113 and row["gflops"] == 7.12
    assert row["paper_params_m"] == 28.5 and row["paper_gflops"] == 7.1 and row["paper_ap"] == 74.4


def test_table1_preset_is_compared_with_the_hrgcnet_paper_row():
    calls = []
    (row,) = complexity_table(((256, 192),), names=["hrgcnet-w32-table1"], progress=lambda *a: calls.append(a))
    assert row["params"] == 29_600_801 and row["paper_params_m"] == 29.6 and row["params_vs_paper_%"] == 0.0
    assert calls == [(1, 1, "hrgcnet-w32-table1 256x192")]


@pytest.mark.parametrize("name", ["hrnet-w32", "hrgcnet-w32", "hrgcnet-w32-table1"])
def test_breakdown_leaves_add_up_to_the_model(name):
    model = meta_model(name)
    parts = breakdown(model, (128, 96))
    by_id = {p.id: p for p in parts}
    total, _ = count_macs_meta(model, (128, 96))
    assert by_id["model"].params == sum(p.numel() for p in model.parameters())
    assert by_id["model"].macs == total
    parents = {p.parent for p in parts}
    leaves = [p for p in parts if p.id not in parents]
    assert sum(p.params for p in leaves) == by_id["model"].params
    assert sum(p.macs for p in leaves) == by_id["model"].macs
    for p in parts:  # every parent is the sum of its children
        children = [c for c in parts if c.parent == p.id]
        if children:
            assert sum(c.params for c in children) == p.params and sum(c.macs for c in children) == p.macs
    assert [r["part"] for r in stage_summary(parts)] == [
        "stem", "stage1", "transition1", "stage2", "transition2", "stage3", "transition3", "stage4", "head"]


def test_gc_leaves_hold_the_gc_block_parameters():
    parts = {p.id: p for p in breakdown(meta_model("hrgcnet-w32"), (256, 192))}
    # GC block params 2 r C^2 + C (2 + 3 r) + 1 at r = 1/4 (reference notes): 33,473 for C = 256, 601 for C = 32
    assert parts["stage1.block0.gc"].params == 33_473
    assert parts["stage2.module0.branch0.block0.gc"].params == 601
    assert "stage2.module0.branch1.block0.gc" not in parts  # text preset: only the high-resolution branch
    # the depthwise-separable stage 1 costs less than HRNet's
    hrnet = {p.id: p for p in breakdown(meta_model("hrnet-w32"), (256, 192))}
    assert parts["stage1"].macs < hrnet["stage1"].macs
    assert parts["stem"].macs == hrnet["stem"].macs


def test_part_names():
    gc = {"layer1.0", "stage3.1.branches.0.2"}
    assert part_of("conv1", gc) == "stem"
    assert part_of("layer1.0.gc.conv_mask", gc) == "stage1.block0.gc"
    assert part_of("layer1.0.conv1", gc) == "stage1.block0.body"
    assert part_of("layer1.1.conv1", gc) == "stage1.block1"
    assert part_of("stage3.1.branches.0.2.gc.channel_add_conv.0", gc) == "stage3.module1.branch0.block2.gc"
    assert part_of("stage3.1.branches.1.2.conv1", gc) == "stage3.module1.branch1.block2"
    assert part_of("stage4.0.fuse_layers.0.1.0", gc) == "stage4.module0.fuse"
    assert part_of("transition2.2.0.0", gc) == "transition2"
    assert part_of("final_layer", gc) == "head"


@pytest.mark.parametrize("name,blocks,gc,light", [("hrnet-w32", 108, 0, 0), ("hrgcnet-w32", 108, 36, 4),
                                                  ("hrgcnet-w32-table1", 108, 48, 0)])
def test_block_map(name, blocks, gc, light):
    rows = block_map(meta_model(name))
    assert len(rows) == blocks
    assert sum(r["gc_ratio"] is not None for r in rows) == gc
    assert sum(r["kind"] == "LightweightBottleneck" for r in rows) == light
    last = [r for r in rows if r["stage"] == 4 and r["branch"] == 3]
    assert {r["channels"] for r in last} == {256} and {r["resolution"] for r in last} == {32}


def test_paper_points_are_paper_values():
    pts = {p["method"]: p for p in paper_points("256x192")}
    assert pts["HRGCNet-W32"] == {"method": "HRGCNet-W32", "params_m": 29.6, "gflops": 7.11, "ap": 76.6,
                                  "family": "HRGCNet"}
    assert pts["HRNet-W32"]["ap"] == 74.4 and "HRFormer-B" in pts
    assert {p["method"] for p in paper_points("384x288")} >= {"HRNet-W48", "HRGCNet-W48"}
