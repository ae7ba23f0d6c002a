"""bench/data.py: its declared config, and a tiny in-process run that writes the result schema."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

RESULT = Path(__file__).resolve().parents[2] / "bench" / "results" / "data.json"


@pytest.fixture(scope="module")
def data_bench(bench_script):
    return bench_script("data")


def test_the_full_run_declares_a_64px_colour_setting(data_bench):
    from genlens.diffusion import UNetConfig

    full = data_bench.FULL
    assert full["resolution"] == 64 and full["workers"] == 2 and full["repeats"] >= 5
    unet = UNetConfig(**full["unet"])
    assert (unet.sample_size, unet.in_channels, unet.pad) == (64, 3, 0)
    assert unet.block_out_channels == (32, 64, 128, 128)
    assert data_bench.TARGETS == {"ours_over_plain": 0.95, "ours_over_ddpm": 2.0, "loader_data_share": 0.05}


def test_median_interval_of_equal_samples_is_that_value(data_bench):
    out = data_bench.median_interval([2.0, 2.0, 2.0], reps=100, seed=0)
    assert out["median"] == 2.0 and out["ci95"] == [2.0, 2.0]


@pytest.mark.slow
def test_a_tiny_run_writes_the_schema(data_bench, tmp_path):
    has_peer = all(importlib.util.find_spec(m) for m in ("denoising_diffusion_pytorch", "ema_pytorch"))
    cfg = {**data_bench.QUICK, "files": 12, "loader_steps": 2, "bootstrap": 50}
    result = data_bench.run(cfg, ["plain", "ddpm", "loader"])
    assert result["benchmark"] == "data" and result["schema"] == data_bench.SCHEMA
    assert {k: result["config"][k] for k in cfg} == cfg  # the config that ran is stored whole
    step = result["parts"]["step"]
    assert len(step["ours"]["samples"]) == cfg["repeats"] and len(step["plain"]["samples"]) == cfg["repeats"] + 1
    for name in ("plain", "ddpm") if has_peer else ("plain",):
        ratio = step[name]["ratio_ours_over_peer"]
        assert ratio["ci95"][0] <= ratio["median"] <= ratio["ci95"][1] and ratio["median"] > 0
    if not has_peer:
        assert "not installed" in step["notes"]["ddpm"]
    loader = result["parts"]["loader"]
    assert 0.0 <= loader["data_share"] <= 1.0 and len(loader["data_s"]["samples"]) == cfg["loader_steps"]
    assert set(result["verdict"]) == set(data_bench.TARGETS)
    assert all(v["met"] in (True, False, None) for v in result["verdict"].values())
    json.dumps(result, allow_nan=False)  # the result file is strict JSON
    assert "Quick smoke run" in data_bench.table(result)


def test_the_committed_result_came_from_the_declared_config(data_bench):
    if not RESULT.is_file():
        pytest.skip("bench/results/data.json not written yet")
    result = json.loads(RESULT.read_text())
    assert result["benchmark"] == "data" and result["schema"] == data_bench.SCHEMA
    declared = json.loads(json.dumps(data_bench.FULL))  # tuples as lists, as in the file
    assert {k: result["config"][k] for k in declared} == declared
    assert all(math.isfinite(v["value"]) for v in result["verdict"].values() if v["value"] is not None)
