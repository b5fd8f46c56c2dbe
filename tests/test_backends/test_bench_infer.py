"""``hrgcnet bench --infer``: the JSON it prints and the ratios it derives."""

import json

import pytest

from hrgcnet.backends.bench import ratios
from hrgcnet.cli import main


def test_ratios_from_rows():
    rows = [{"model": m, "input_size": "128x96", "config": c, "batch": 2, "ms": ms}
            for m, c, ms in (("hrnet-w32", "torch fp32", 60.0), ("hrnet-w32", "openvino", 20.0),
                             ("hrgcnet-w32", "torch fp32", 66.0), ("hrgcnet-w32", "openvino", 22.0))]
    frames = [{"model": "hrnet-w32", "input_size": "128x96", "config": "openvino", "persons": p, "total": t}
              for p, t in ((1, 30.0), (8, 90.0))]
    out = ratios(rows, frames)
    assert out["speedup"] == {"hrnet-w32 128x96 torch fp32 b2": 1.0, "hrnet-w32 128x96 openvino b2": 3.0,
                              "hrgcnet-w32 128x96 torch fp32 b2": 1.0, "hrgcnet-w32 128x96 openvino b2": 3.0}
    assert out["hrgcnet_over_hrnet"] == {"128x96 torch fp32 b2": 1.1, "128x96 openvino b2": 1.1}
    assert out["frame_over_network"] == {"hrnet-w32 128x96 openvino": 1.5}
    assert out["eight_over_one"] == {"hrnet-w32 128x96 openvino": 3.0}


def test_cli_prints_one_json_object_on_the_last_line(capsys):
    assert main(["bench", "--infer", "--model", "hrnet-w32", "--input-size", "64x64", "--batches", "1,2",
                 "--repeats", "1", "--configs", "torch fp32", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"machine", "rows", "frames", "ratios", "command"} <= set(out)
    assert [(r["config"], r["batch"]) for r in out["rows"]] == [("torch fp32", 1), ("torch fp32", 2)]
    assert all(r["ms"] > 0 and r["conv_floor_ms"] > 0 for r in out["rows"])
    assert [f["persons"] for f in out["frames"]] == [1, 8] and out["frames"][0]["detect"] > 0
    assert out["ratios"]["speedup"]["hrnet-w32 64x64 torch fp32 b2"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["bench"], "pass --train"), (["bench", "--train", "--infer"], "pass --train"),
    (["bench", "--infer", "--batches", "1,x"], "--batches"), (["bench", "--infer", "--configs", "tensorrt"],
                                                             "not available")])
def test_cli_refuses_bad_options(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
