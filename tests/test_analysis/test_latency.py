import pytest

from hrgcnet.analysis.speed import available_precisions, benchmark_latency, machine_info, time_forward
from hrgcnet.errors import UsageError
from hrgcnet.models import create_model


def test_time_forward_and_errors():
    model = create_model("hrnet-w32").eval()
    times = time_forward(model, 1, (64, 64), "fp32", repeats=2, warmup=0)
    assert len(times) == 2 and all(t > 0 for t in times)
    with pytest.raises(UsageError, match="multiples of 32"):
        time_forward(model, 1, (64, 48))
    with pytest.raises(UsageError, match="precision"):
        time_forward(model, 1, (64, 64), "int3")
    with pytest.raises(UsageError, match="not available"):
        time_forward(model, 1, (64, 64), "fp16", device="cpu")
    assert available_precisions("cpu") == ["fp32", "bf16"]
    assert machine_info("cpu")["device"].startswith("cpu")


def test_benchmark_rows_and_progress():
    calls = []
    rows = benchmark_latency(["hrnet-w32", "hrgcnet-w32"], batch_sizes=[1, 2], input_sizes=[(64, 64)],
                             precisions=["fp32"], repeats=1, warmup=0, progress=lambda *a: calls.append(a))
    assert [(r["model"], r["batch"]) for r in rows] == [("hrnet-w32", 1), ("hrnet-w32", 2), ("hrgcnet-w32", 1),
                                                        ("hrgcnet-w32", 2)]
    assert [c[:2] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for r in rows:
        assert r["median_ms"] > 0 and r["per_image_ms"] == pytest.approx(r["median_ms"] / r["batch"])
        assert r["input_size"] == "64x64" and r["device"] == "cpu"
