"""bench/evaluator.py: pre-registered floors over seeds with intervals, from features and logits."""
from __future__ import annotations

import json

import torch


def test_measure_floors_and_judge(bench_script) -> None:
    bench = bench_script("evaluator")
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 10
    feats = torch.randn(60, 4, generator=g) + labels[:, None].float()  # one real distribution
    logits = torch.nn.functional.one_hot(labels, 10).float()
    logits[:6] = logits[:6].roll(1, dims=1)  # 6 of 60 judged wrong
    config = {**bench.CONFIG, "n": 30, "kid_subset_size": 20, "kid_subsets": 3, "resamples": 200}
    out = json.loads(json.dumps(bench.measure(feats, logits, labels, extractor="toy", config=config)))
    assert out["extractor"] == out["judge"] == "toy"
    assert out["judge_top1"]["estimate"] == 0.9 and out["judge_top1"]["low"] <= 0.9 <= out["judge_top1"]["high"]
    for metric in ("fid", "kid", "precision", "recall"):
        floor = out["floors"][metric]
        assert len(floor["per_seed"]) == len(config["seeds"]) >= 3
        iv = floor["interval"]
        assert iv["method"] == "t over seeds" and iv["low"] <= iv["estimate"] <= iv["high"]
    assert out["floors"]["fid"]["per_seed"][0] > 0  # two finite halves of one distribution still differ
    assert out["floors"]["precision"]["bootstrap_first_seed"]["estimate"] == out["floors"]["precision"]["per_seed"][0]
    table = bench.table({**out, "config": config})
    assert "| 90.00 [" in table and f"{config['n']} test images" in table
