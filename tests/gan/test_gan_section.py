"""The tour's GAN section with tiny generators in a temporary weights folder, and without any."""
from __future__ import annotations

import json

import pytest
import torch

import genlens.gan.io as gan_io
import genlens.report.gan_section as gs
from genlens.gan import GanConfig, Generator, save_generator
from genlens.gan.discriminator import save_discriminator
from genlens.gan.networks import ARCHS, Discriminator
from genlens.report.tour import TourContext


def _ctx(tmp_path, results=None):
    return TourContext(out=tmp_path / "tour", seed=0, device="cpu", data_dir=None, quick=True, log=lambda m: None,
                       results=results or tmp_path / "results")


def _bench_result() -> dict:
    curve = {"kimg": [1.0, 2.0], "fid_mean": [80.0, 60.0], "di_mean": [1.0, 0.5],
             "per_seed": {"0": {"kimg": [1.0, 2.0], "fid": [81.0, 61.0], "di": [1.1, 0.6]}}}
    stat = {"mean": 1.0, "median": 1.0, "std": 0.0, "per_seed": [1.0]}
    summary = {"kimg": [2.0], "fid": stat, "di": stat, "coverage_min_fraction": {**stat, "per_seed": [0.05]},
               "locator_editing_slope": stat, "render_ms": {"median_ms": 5.0}}
    return {"curves": {"stylegan2": curve, "eqgan-sa": curve}, "summary": {"stylegan2": summary, "eqgan-sa": summary},
            "config": {"seeds": [0], "quick": True}, "compare_kimg": 2.0,
            "targets": {"fid_eqgan_below_baseline": {"met": False, "detail": "x"}}}


@pytest.fixture
def weights(tmp_path, monkeypatch):
    root = tmp_path / "weights"
    monkeypatch.setattr(gan_io, "WEIGHTS_ROOT", root)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "gan.json").write_text(json.dumps(_bench_result()))
    return root


def test_section_with_tiny_models(weights, tmp_path, monkeypatch, fmnist_test):
    import genlens.report.scenes_section as ss
    from genlens.data.scenes import SceneConfig, generate_scenes

    scenes = generate_scenes(SceneConfig(split="test", count=30), fmnist_test)
    monkeypatch.setattr(ss, "test_scenes", lambda ctx, locator: scenes)
    torch.manual_seed(0)
    for arch in ARCHS:
        cfg = GanConfig.tiny(arch)
        folder = save_generator(gan_io.shipped_gan_folder(arch), Generator(cfg), command="test",
                                metrics={"kimg": 1.0, "fid": {"value": 42.0}})
        if arch == "eqgan-sa":
            save_discriminator(folder, Discriminator(cfg))
    ctx = _ctx(tmp_path, results=tmp_path / "empty")  # no gan.json there; curves: see the next test
    html = gs.section_gan(ctx)
    for name in ("samples_stylegan2.png", "samples_eqgan-sa.png", "overlays_eqgan-sa.png", "editing_strip.png",
                 "interpolation.png"):
        assert (ctx.out / "gan" / name).stat().st_size > 200, name
        assert f"gan/{name}" in html
    assert "D&#x27;s Grad-CAM" in html and "FID 42.00" in html
    numbers = ctx.numbers["gan"]
    assert numbers["shipped"] == list(ARCHS)
    ed = numbers["models"]["eqgan-sa"]["locator_editing"]
    assert ed["edits"] == 8 and 0 <= ed["object_found"] <= 1 and "editing slope (locator)" in html
    assert numbers["models"]["stylegan2"]["render_ms"] > 0 and "locator_editing" not in numbers["models"]["stylegan2"]
    assert "No training curves yet" in html


def test_section_without_models_says_how_to_make_them_and_shows_curves(weights, tmp_path):
    ctx = _ctx(tmp_path)
    html = gs.section_gan(ctx)
    assert "not trained yet" in html and "bash scripts/train_gan_gpu.sh" in html
    assert (ctx.out / "gan" / "heatmap_sampler.png").is_file() and ctx.numbers["gan"]["shipped"] == []
    for name in ("fid_vs_kimg.png", "di_vs_kimg.png"):
        assert (ctx.out / "gan" / name).stat().st_size > 1000 and f"gan/{name}" in html
    assert ctx.numbers["gan"]["bench"]["compare_kimg"] == 2.0 and "not met" in html


def test_without_a_results_folder_the_curves_are_a_note(weights, tmp_path):
    ctx = TourContext(out=tmp_path / "tour", seed=0, device="cpu", data_dir=None, quick=True, log=lambda m: None)
    html = gs.section_gan(ctx)
    assert "--results bench/results" in html and "fid_vs_kimg.png" not in html


def test_editing_curve_comes_from_its_own_run_when_the_comparison_lacks_it(weights, tmp_path, monkeypatch):
    ctx = _ctx(tmp_path)
    assert "editing_slope_vs_kimg.png" not in gs.section_gan(ctx)  # no run has recorded the editing slope yet
    curve = {"kimg": [1.0, 2.0], "fid_mean": [80.0, 60.0], "di_mean": [1.0, 0.5],
             "locator_editing_slope_mean": [0.1, 0.6],
             "per_seed": {"0": {"kimg": [1.0, 2.0], "fid": [81.0, 61.0], "di": [1.1, 0.6],
                                "locator_editing_slope": [0.1, 0.6]}}}
    (tmp_path / "results" / "gan_editing_curve.json").write_text(json.dumps({"curves": {"eqgan-sa": curve}}))
    html = gs.section_gan(_ctx(tmp_path / "again", results=tmp_path / "results"))
    assert "gan/editing_slope_vs_kimg.png" in html and "editing slope vs images seen" in html
    assert (tmp_path / "again" / "tour" / "gan" / "editing_slope_vs_kimg.png").stat().st_size > 1000
