"""bench/headlines.py: the pre-registered restatement refuses another protocol's file and renders intervals."""
from __future__ import annotations

import json

import pytest


def _stat(bench, values):
    return bench._interval(values)


def test_table_renders_every_part_with_intervals(bench_script) -> None:
    bench = bench_script("headlines")
    cfg = bench.CONFIG
    s = {k: _stat(bench, v) for k, v in {"fid": [0.5, 0.6, 0.55], "floor_fid": [0.1, 0.12, 0.11], "kid": [0.0, 0.001, 0.0],
                                         "precision": [0.7, 0.71, 0.72], "recall": [0.6, 0.6, 0.61],
                                         f"accuracy[{cfg['judge']}]": [0.9, 0.91, 0.92],
                                         f"accuracy[{cfg['contrast_judge']}]": [0.95, 0.95, 0.96]}.items()}
    gan = {k: _stat(bench, v) for k, v in {"fid": [3.0, 3.1, 3.2], "kid": [0.01, 0.01, 0.02], "precision": [0.8] * 3,
                                           "recall": [0.5, 0.52, 0.51], "coverage_min_fraction": [0.05, 0.06, 0.05],
                                           "coverage_tv_to_uniform": [0.1, 0.11, 0.1]}.items()}
    result = {"config": cfg, "parts": {
        "zoo": {"models": {"fmnist-cnn": {"top1": {"estimate": 0.93, "low": 0.925, "high": 0.935},
                                          "agreement_with_judge": 0.95}}},
        "diffusion": {"model": "fmnist-ddpm", "n": 2000, "settings": {"sampler": "ddim"}, "guide_model": None,
                      "guide_weight": 1.0, "stats": s, "fid_bar": 0.33, "fid_verdict": "missed"},
        "gan": {"n": 10_000, "models": {"fmnist-gan": gan}, "floor_fid": _stat(bench, [0.05, 0.06, 0.05]),
                "compare": {"what": "FID a - FID b", **_stat(bench, [-0.1, -0.2, -0.15]), "verdict": "met",
                            "note": "evaluation seeds only"}}}}
    text = bench.table(json.loads(json.dumps(result)))
    assert "| fmnist-cnn | 93.00 [92.50, 93.50] | 95.0 |" in text
    assert "0.550 [" in text and "| missed |" in text and "FID a - FID b: -0.150 [" in text and "met" in text


def test_a_file_of_another_protocol_is_refused(bench_script, tmp_path) -> None:
    bench = bench_script("headlines")
    out = tmp_path / "headlines.json"
    out.write_text(json.dumps({"benchmark": "headlines", "config": {**bench.CONFIG, "seeds": [0]}, "parts": {}}))
    with pytest.raises(SystemExit, match="another benchmark or config"):
        bench.main(["--parts", "zoo", "--out", str(out)])


def test_subsets_are_fixed_by_the_seed(bench_script) -> None:
    bench = bench_script("headlines")
    assert bench._subset(5, 100, 0).tolist() == bench._subset(5, 100, 0).tolist() != bench._subset(5, 100, 1).tolist()
