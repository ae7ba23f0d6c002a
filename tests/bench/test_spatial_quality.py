"""bench/spatial_quality.py and the sample-quality part of bench/spatial.py: the FID ratio to the unconditional
baseline (through the ``free-gan`` adapter), its paired bootstrap interval and its verdict."""
from __future__ import annotations

import json

import pytest
import torch

from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.gan import GanConfig, Generator, save_generator
from genlens.metrics.intervals import Interval
from genlens.metrics.locator import LocatorConfig, save_locator
from genlens.metrics.locator_train import train_locator


@pytest.fixture(scope="module")
def tiny_locator(fmnist_test, tmp_path_factory):
    scenes = generate_scenes(SceneConfig(split="test", count=64), fmnist_test)
    model = train_locator(LocatorConfig(width=8), scenes, steps=2, batch=8)
    return save_locator(tmp_path_factory.mktemp("loc") / "tiny", model, command="test", metrics={}, threshold=0.3)


@pytest.fixture(scope="module")
def gan_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("free")
    torch.manual_seed(0)
    return {arch: save_generator(root / arch, Generator(GanConfig.tiny(arch)), command="test", metrics={})
            for arch in ("stylegan2",)}


def test_ratio_of_translated_features_is_exact(bench_script):
    q = bench_script("spatial_quality")
    g = torch.Generator().manual_seed(0)
    real = [torch.randn(40, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    shift = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    near = [r + shift for r in real]  # same covariance, mean off by 1: FID = 1 on every resample
    far = [r + 2 * shift for r in real]  # FID = 4
    iv = q.ratio_interval(real, near, far, resamples=50)
    assert iv.estimate == pytest.approx(0.25) and iv.low == pytest.approx(0.25) and iv.high == pytest.approx(0.25)
    assert q.ratio_verdict(iv) == "met"
    assert q.ratio_verdict(q.ratio_interval(real, far, near, resamples=50)) == "missed"  # ratio 4


@pytest.mark.parametrize(("ratios", "expected"), [((1.0, 1.05, 1.1), "met"), ((1.0, 1.2, 1.4), "at the bar"),
                                                 ((2.0, 2.1, 2.2), "missed")])
def test_ratio_over_seeds_is_a_t_interval(bench_script, ratios, expected):
    q = bench_script("spatial_quality")
    iv = q.seed_ratio_interval(list(ratios))
    half = 4.302652729911275 * (ratios[2] - ratios[1]) / 3**0.5  # t_{0.975, 2} * s / sqrt(3), s = the step here
    assert iv.method == "t over seeds" and iv.estimate == pytest.approx(ratios[1])
    assert iv.low == pytest.approx(ratios[1] - half) and iv.high == pytest.approx(ratios[1] + half)
    assert q.ratio_verdict(iv) == expected
    assert q.ratio_verdict(q.seed_ratio_interval([1.0, float("nan"), 1.1])) is None  # a baseline FID of 0


@pytest.mark.parametrize(("low", "high", "expected"), [(1.1, 1.4, "met"), (1.3, 1.7, "at the bar"),
                                                       (1.5, 1.8, "at the bar"), (1.6, 2.0, "missed")])
def test_ratio_verdict_rule(bench_script, low, high, expected):
    q = bench_script("spatial_quality")
    iv = Interval(estimate=(low + high) / 2, low=low, high=high, level=0.95, method="bootstrap-percentile", n=3)
    assert q.ratio_verdict(iv) == expected
    nan = Interval(estimate=float("nan"), low=float("nan"), high=float("nan"), level=0.95, method="x", n=3)
    assert q.ratio_verdict(nan) is None


@pytest.mark.timeout(300)
def test_quick_run_reports_the_ratio(bench_script, tiny_locator, gan_folders, tmp_path):
    bench = bench_script("spatial")
    out = tmp_path / "spatial.json"
    bench.main(["--quick", "--locator", str(tiny_locator), "--features", "pooled-pixels", "--generator",
                "analytic-follow", "--baseline", f"free-gan:{gan_folders['stylegan2']}", "--out", str(out)])
    result = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    q = result["sample_quality"]
    base = f"{gan_folders['stylegan2']}"
    assert q["extractor"] == "pooled-pixels" and q["n"] == bench.QUICK["n"] and q["baseline"] == base
    assert set(q["fid"]) == {"analytic-follow", base}
    assert all(len(v["per_seed"]) == len(bench.SEEDS) and v["mean"] > 0 for v in q["fid"].values())
    ratio = q["ratios"]["analytic-follow"]
    assert ratio["low"] <= ratio["estimate"] <= ratio["high"] and ratio["method"] == "t over seeds"
    assert ratio["bootstrap"]["method"] == "bootstrap-percentile" and len(ratio["per_seed"]) == len(bench.SEEDS)
    assert ratio["verdict"] in ("met", "at the bar", "missed") and result["config"]["n_quality"] == bench.N_QUALITY
