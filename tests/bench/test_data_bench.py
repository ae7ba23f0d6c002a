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
    from genlens.diffusion.config import PRESETS

    full = data_bench.FULL
    assert full["resolution"] == 64 and full["workers"] == 2 and full["repeats"] >= 5
    assert full["unet"] == {"preset": "64", "cond": "class", "num_classes": 10, "channels": 3}
    unet = data_bench.unet_config(full)  # the shipped preset, not a copy of its numbers
    assert (unet.sample_size, unet.in_channels, unet.pad, unet.cond) == (64, 3, 0, "class")
    assert (unet.block_out_channels, unet.attention_levels) == (PRESETS["64"]["block_out_channels"],
                                                                PRESETS["64"]["attention_levels"])
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
    assert loader["streamed"] and loader["classes"] == 10 and loader["loader_alone_images_per_s"] > 0
    assert result["unet"]["block_out_channels"] == [8, 16] and result["unet"]["sample_size"] == 16  # tiny preset
    assert set(result["verdict"]) == set(data_bench.TARGETS)
    assert all(v["met"] in (True, False, None) for v in result["verdict"].values())
    json.dumps(result, allow_nan=False)  # the result file is strict JSON
    text = data_bench.table(result)
    assert "Quick smoke run" in text and "preset tiny" in text and "genlens.data.stream" in text


def test_the_committed_result_came_from_the_declared_config(data_bench):
    if not RESULT.is_file():
        pytest.skip("bench/results/data.json not written yet")
    result = json.loads(RESULT.read_text())
    assert result["benchmark"] == "data" and result["schema"] == data_bench.SCHEMA
    declared = json.loads(json.dumps(data_bench.FULL))  # tuples as lists, as in the file
    assert {k: result["config"][k] for k in declared} == declared
    assert all(math.isfinite(v["value"]) for v in result["verdict"].values() if v["value"] is not None)


def _result(unet: dict, loader_extra: dict) -> dict:
    """A minimal result file: one step part with the plain peer, a loader part, the config keys table() reads."""
    ratio = {"median": 0.97, "ci95": [0.9, 1.0], "samples": [0.97]}
    return {"config": {"resolution": 64, "unet": unet, "batch": 8, "repeats": 14, "window": 1, "threads": 1},
            "env": {"cpu": "CPU", "torch": "2"},
            "parts": {"step": {"params": 4.33e6, "ours": {"median": 2.27}, "notes": {},
                               "plain": {"median": 2.4, "ratio_ours_over_peer": ratio}},
                      "loader": {"workers": 2, "files": 2000, "batch": 8, "data_share": 0.0035,
                                 "loader_alone_images_per_s": 735.0, **loader_extra}}}


def test_the_table_reads_both_result_layouts(data_bench):
    old = data_bench.table(_result({"block_out_channels": [32, 64, 128, 128]}, {"dataset": "a Dataset"}))
    assert "| genlens train_diffusion | 4.33 M | 2.27 | |" in old
    assert "\nLoader: 2 workers over 2000 PNGs, batch 8: data 0.35 % of step time" in old
    new = data_bench.table(_result(data_bench.FULL["unet"], {"loader": data_bench.LOADER, "streamed": True}))
    assert "| genlens train_diffusion, preset 64 | 4.33 M | 2.27 | |" in new
    assert "\nLoader (genlens.data.stream, streamed): 2 workers over 2000 PNGs" in new
