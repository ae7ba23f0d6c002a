"""The tour's methods x architectures grid comes from the bench run's own files, never pasted numbers."""
from __future__ import annotations

import json
from types import SimpleNamespace

import torch

from genlens.report.inversion_section import _bench_grid
from genlens.utils.images import save_grid


def _ctx(tmp_path):
    return SimpleNamespace(out=tmp_path / "tour", quick=True, seed=0, numbers={})


def test_bench_grid_shows_each_method_and_its_measured_number(tmp_path):
    results = tmp_path / "results"
    (results / "inversion").mkdir(parents=True)
    for method in ("pii", "deepdream"):
        save_grid(torch.rand(10, 1, 28, 28), results / "inversion" / f"{method}_fmnist-cnn.png", nrow=10)
    result = {"env": {"date": "2026-11-30T00:00:00+00:00"}, "methods": {
        "pii": {"per_arch": {"fmnist-cnn": {"status": "ok", "cross_top1": 0.625}},
                "summary": {"pairs": 3, "cross_top1_mean": 0.625, "cross_top5_mean": 0.9}},
        "deepdream": {"per_arch": {"fmnist-cnn": {"status": "ok", "cross_top1": 0.25}},
                      "summary": {"pairs": 3, "cross_top1_mean": 0.25, "cross_top5_mean": 0.5}},
        "deepinversion": {"per_arch": {"fmnist-vit": {"status": "n/a"}}, "summary": {"pairs": 0}}}}
    (results / "inversion.json").write_text(json.dumps(result))
    ctx = _ctx(tmp_path)
    html = _bench_grid(ctx, results)
    assert "62%" in html and "25%" in html and "2026-11-30" in html
    assert (ctx.out / "inversion" / "bench" / "pii_fmnist-cnn.png").is_file()
    assert set(ctx.numbers["inversion_bench"]) == {"date", "pii", "deepdream"}


def test_bench_grid_says_what_to_run_when_missing(tmp_path):
    html = _bench_grid(_ctx(tmp_path), tmp_path / "nothing")
    assert "bench/inversion.py" in html and "todo" in html


def test_without_a_results_folder_the_grid_is_a_note(tmp_path):
    ctx = _ctx(tmp_path)
    html = _bench_grid(ctx, None)
    assert "--results bench/results" in html and "inversion_bench" not in ctx.numbers
