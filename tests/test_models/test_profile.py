import json

import pytest

from hrgcnet.cli import main
from hrgcnet.models.profile import parse_input_size, profile_model


@pytest.mark.parametrize("name,size,params,gflops", [
    ("hrnet-w32", (256, 192), 28_536_113, 7.12),
    ("hrnet-w32", (384, 288), 28_536_113, 16.02),
    ("hrnet-w48", (256, 192), None, 14.61),
])
def test_official_convention(name, size, params, gflops):
    row = profile_model(name, size)
    if params is not None:
        assert row["params"] == params
    assert round(row["macs"] / 2 ** 30, 2) == gflops


def test_gc_blocks_cost_their_pooling_macs():
    base = profile_model("hrnet-w32", (256, 192))
    table1 = profile_model("hrgcnet-w32-table1", (256, 192))
    # stage-4 GC blocks at r=1/2: per block, C (mask conv) + C (pooling) MACs per position + 2 C^2 r transform
    extra = 0
    for b, c in enumerate([32, 64, 128, 256]):
        positions = (64 >> b) * (48 >> b)
        extra += 12 * (2 * c * positions + 2 * c * c // 2)
    assert table1["macs"] - base["macs"] == extra


def test_cli_profile_json(capsys):
    assert main(["profile", "--model", "hrnet-w32", "--input-size", "256x192", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["params"] == 28_536_113 and isinstance(row["macs"], int) and row["gflops"] == 7.12


def test_cli_models_json(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in rows} >= {"hrnet-w32", "hrgcnet-w32", "hrgcnet-w32-table1"}
    assert all(isinstance(r["weights"], bool) for r in rows)


@pytest.mark.parametrize("bad", ["256", "250x192", "axb", "0x32"])
def test_bad_input_sizes(bad, capsys):
    assert main(["profile", "--input-size", bad]) == 2
    assert "input size" in capsys.readouterr().err
    with pytest.raises(Exception):
        parse_input_size(bad)
