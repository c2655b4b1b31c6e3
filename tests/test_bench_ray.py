"""`bala bench ray-ingest` on a small slice: every variant ingests every passage (the full
run, with its ≤ 15% target, is the benchmark itself)."""

from __future__ import annotations

import pytest
from conftest import shared_path


def test_ray_ingest_bench_times_both_engines_on_the_same_passages():
    pytest.importorskip("ray", reason="ray[data] is not installed")
    shared_path("bench", "bioasq")
    from eval.bench_ray import ray_ingest_bench

    result = ray_ingest_bench(passages=40, cpus=(1,), repeats=1)
    assert result["passages"] == 40 and set(result["variants"]) == {"single-1", "ray-1"}
    for stats in result["variants"].values():
        assert (stats["chunks"], stats["embedded"], stats["failed"]) == (40, 40, 0)
        assert stats["passages_per_s"] == pytest.approx(40 / stats["seconds"])
    assert "ray_init_s" in result["variants"]["ray-1"]
    rates = {name: v["passages_per_s"] for name, v in result["variants"].items()}
    assert result["cost"]["1_cpu"] == pytest.approx(rates["single-1"] / rates["ray-1"] - 1)
    assert result["met"] == (result["cost"]["1_cpu"] <= 0.15)
