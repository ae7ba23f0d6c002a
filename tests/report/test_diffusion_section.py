"""The tour's diffusion section on tiny (untrained) models standing in for the shipped ones."""
from __future__ import annotations

import json

import pytest
import torch
from captioned_data import CAPTIONS, captioned_folder, train_text_folder, use_seeded_text

from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.errors import GenlensError
from genlens.report import diffusion_section as D
from genlens.report.tour import SECTIONS, TourContext, build_tour


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, save_diffusion

    root = tmp_path_factory.mktemp("weights")
    folders = {}
    for cond in ("class", "text"):
        torch.manual_seed(0)
        unet = UNetConfig.tiny(cond, num_classes=len(CLASS_NAMES))
        folders[cond] = save_diffusion(root / f"fmnist-ddpm-{cond}", Denoiser(unet).eval(),
                                       config=DiffusionTrainConfig(unet=unet, steps=1),
                                       class_names=tuple(CLASS_NAMES), command="test", metrics={})
    return folders


@pytest.fixture
def ctx(tmp_path):
    return TourContext(out=tmp_path, seed=0, device="cpu", data_dir=None, quick=True, log=lambda m: None,
                       results=tmp_path / "results")


@pytest.fixture
def shipped(monkeypatch, tiny_models, tmp_path):
    import genlens.diffusion.io
    import genlens.diffusion.prompt_cache

    monkeypatch.setattr(genlens.diffusion.io, "shipped_diffusion_folder", lambda cond="class": tiny_models[cond])

    def fake_tokens(prompts, *, max_tokens, **kw):  # stands in for MiniLM (seconds to load)
        g = torch.Generator().manual_seed(len(prompts))
        return torch.randn(len(prompts), max_tokens, 384, generator=g), torch.ones(len(prompts), max_tokens,
                                                                                   dtype=torch.bool)

    def fake_anchored(prompts, *, k, max_tokens, **kw):
        g = torch.Generator().manual_seed(k)
        return (torch.randn(len(prompts), 1 + k, max_tokens, 384, generator=g),
                torch.ones(len(prompts), 1 + k, max_tokens, dtype=torch.bool),
                [[f"training caption {j} of {p}" for j in range(k)] for p in prompts])

    monkeypatch.setattr(genlens.diffusion.prompt_cache, "cached_prompt_tokens", fake_tokens)
    monkeypatch.setattr(genlens.diffusion.prompt_cache, "cached_anchored_tokens", fake_anchored)
    bench = tmp_path / "results" / D.BENCH_FILE  # no diffusion-eval/ beside it
    bench.parent.mkdir()
    monkeypatch.setattr(D, "STEPS", 3)  # the tour uses 20; a few steps keep the test fast
    return bench


def _bench_result():
    return {
        "guidance_sweep": [{"guidance": s, "fid": 5 + abs(s - 1), "accuracy": min(1, 0.5 + s / 10), "n": 100}
                           for s in (0, 1, 2, 3, 5, 8)],
        "steps_sweep": [{"sampler": "ddim", "steps": k, "fid": 3 + 10 / k, "seconds": k / 10, "n": 100}
                        for k in (10, 20, 50)] + [{"sampler": "ddpm", "steps": 1000, "fid": 3.2, "seconds": 90, "n": 50},
                                                  {"sampler": "ddim", "steps": 20, "fid": 3.7, "seconds": 2, "n": 50}],
        "class_eval": {"fid": {"value": 4.2, "extractor": "genlens-fmnist", "n_fake": 2000}, "accuracy": 0.93,
                       "judge": "fmnist-cnn", "n": 2000, "guidance": 3.0, "sampler": "ddim", "steps": 20},
        "reference": {"fid_test_halves": {"value": 0.9, "n_fake": 5000}, "fid_real_n": {"value": 1.6, "n_fake": 2000}},
        "prompts": {"accuracy": 0.8, "n": 400, "k": 20},
    }


def test_section_with_models_and_bench(ctx, shipped):
    shipped.write_text(json.dumps(_bench_result()))
    html = D.section_diffusion(ctx)
    for png in ("class-grid.png", "filmstrip.png", "prompts.png", "guidance-sweep.png", "steps-sweep.png"):
        assert (ctx.out / "diffusion" / png).stat().st_size > 500, png
        assert f"diffusion/{png}" in html
    nums = ctx.numbers["diffusion"]
    grid = nums["class_grid"]
    assert grid["n"] == 10 and grid["judge"] == "fmnist-cnn" and grid["steps"] == D.STEPS and grid["guidance"] == 3.0
    assert f"{100 * grid['accuracy']:.0f}%" in html  # the page shows what was measured
    gallery = nums["prompt_gallery"]
    assert [p["prompt"] for p in gallery["prompts"]] == [D.GALLERY[i][0] for i in D.QUICK_GALLERY]
    assert "something to wear on a run" in html and "held-out" in html
    assert gallery["anchors"] == 8 and 0 <= gallery["accuracy_anchored"] <= 1
    assert "training caption 0 of something to wear on a run" in html and "anchored" in html
    assert "4.200" in html and "93.0%" in html and "1.600" in html  # bench numbers, read not recomputed
    assert nums["bench"]["prompts"]["accuracy"] == 0.8


def test_missing_models_and_bench_name_the_commands(ctx, shipped, monkeypatch, tmp_path):
    import genlens.diffusion.io

    monkeypatch.setattr(genlens.diffusion.io, "shipped_diffusion_folder", lambda cond="class": tmp_path / "none" / cond)
    html = D.section_diffusion(ctx)
    assert "genlens diffusion train --cond class" in html and "genlens diffusion train --cond text" in html
    assert "python bench/diffusion.py" in html
    assert "diffusion" not in ctx.numbers or "class_grid" not in ctx.numbers["diffusion"]


def test_tour_lists_the_real_section():
    fn = dict((a, f) for a, _, f in SECTIONS)["diffusion"]
    assert "later" not in getattr(fn, "__qualname__", "")


def test_a_text_model_of_its_own_captions_shows_them_unanchored(ctx, cli, tmp_path, monkeypatch):
    use_seeded_text(monkeypatch, tmp_path)
    monkeypatch.setattr(D, "STEPS", 2)
    root = captioned_folder(tmp_path / "photos")
    ctx.text_diffusion = tmp_path / "m"
    train_text_folder(cli, root, ctx.text_diffusion)
    html = D._text_part(ctx, cnn=None)  # no judge: the zoo knows Fashion-MNIST's classes only
    gallery = ctx.numbers["diffusion"]["prompt_gallery"]
    assert gallery["prompts"] == [c for c in CAPTIONS if c] and gallery["anchors"] == 0
    assert gallery["captions_of"] == f"folder:{root}" and gallery["n"] == 3
    assert (ctx.out / "diffusion" / "prompts.png").is_file() and "a green square" in html
    for f in root.iterdir():  # the training folder went away: the part says how to draw it instead
        f.unlink()
    root.rmdir()
    assert "--prompt TEXT" in D._text_part(ctx, cnn=None)
    with pytest.raises(GenlensError, match="--text-diffusion"):
        build_tour(tmp_path / "out", text_diffusion=tmp_path / "nowhere")
