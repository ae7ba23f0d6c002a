"""Autoguidance (Karras et al. 2024, eq. 2): the maths, how CFG wraps it, the model's recommended guide, the
CLI flags that override it, and the one-line errors for a guide that does not fit."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genlens.diffusion import DiffusionTrainConfig, UNetConfig, save_diffusion
from genlens.diffusion.autoguidance import AutoGuided, check_guide_weight
from genlens.diffusion.guidance import GuidedDenoiser
from genlens.diffusion.io import load_diffusion
from genlens.diffusion.pipeline import DiffusionPipeline, settings_from_flags
from genlens.errors import GenlensError


def _inputs(b: int = 3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(b, 1, 32, 32, generator=g), torch.tensor([0, 1, 0][:b])


def test_eq2_for_conditional_and_null_rows(toy):
    good, bad = toy.denoiser(seed=0), toy.denoiser(seed=1)
    x, labels = _inputs()
    drop = torch.tensor([False, True, False])
    with torch.no_grad():
        g, b = good(x, 500, labels, drop=drop), bad(x, 500, labels, drop=drop)
        out = AutoGuided(good, bad, 2.5)(x, 500, labels, drop=drop)
        torch.testing.assert_close(out, b + 2.5 * (g - b))
        torch.testing.assert_close(AutoGuided(good, bad, 1.0)(x, 500, labels), good(x, 500, labels))  # w=1: good
        assert not torch.allclose(g, b)  # the two networks really differ, so the check above means something


def test_cfg_wraps_autoguidance_on_both_branches(toy):
    good, bad = toy.denoiser(seed=0), toy.denoiser(seed=1)
    x, labels = _inputs()
    with torch.no_grad():
        out = GuidedDenoiser(AutoGuided(good, bad, 2.0), 3.0)(x, 300, labels)

        def ag(drop):
            d = torch.full((3,), drop)
            g, b = good(x, 300, labels, drop=d), bad(x, 300, labels, drop=d)
            return b + 2.0 * (g - b)

        torch.testing.assert_close(out, ag(True) + 3.0 * (ag(False) - ag(True)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("w", [0.5, -1, float("nan"), 25])
def test_bad_weight_is_one_line_error(w):
    with pytest.raises(GenlensError, match="guide weight") as e:
        check_guide_weight(w)
    assert "\n" not in str(e.value)


def test_guide_resolution_and_provenance(pair):
    model, guide = pair
    from genlens.diffusion.io import write_sampling

    write_sampling(model, {"guide_model": "early", "guide_weight": 2.0}, "n=2000")
    pipe = DiffusionPipeline.from_folder(model)
    assert pipe.guide_folder() == guide and pipe.config.guide_weight == 2.0  # a sibling folder
    assert (pipe.sources["guide_model"], pipe.sources["guide_weight"]) == ("model", "model")
    assert isinstance(pipe.denoiser(), AutoGuided)
    louder = DiffusionPipeline.from_folder(model, guide_weight=1.5)
    assert louder.config.guide_weight == 1.5 and louder.sources["guide_weight"] == "user"
    assert DiffusionPipeline.from_folder(model, **settings_from_flags(guide_model="none")).guide_folder() is None
    unit = DiffusionPipeline.from_folder(model, guide_weight=1.0)
    assert unit.denoiser() is unit.model  # w = 1 switches it off
    assert pipe.with_config(guide_model=None).denoiser() is pipe.model
    flags = settings_from_flags(guide_model=str(guide))
    assert DiffusionPipeline.from_folder(model, **flags).guide_folder() == guide
    assert pipe.record()["guide_sha256"] == json.loads((guide / "manifest.json").read_text())["sha256"][
        "model.safetensors"]
    with pytest.raises(GenlensError, match="guide weight"):
        settings_from_flags(guide_weight=0.5)


@pytest.fixture
def pair(toy, tmp_path):
    """A class model and, beside it, a guide of the same kind (different weights)."""
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("class", num_classes=2), steps=1)
    folders = []
    for name, seed in (("model", 0), ("early", 1)):
        folders.append(save_diffusion(tmp_path / name, toy.denoiser(seed=seed), config=cfg,
                                      class_names=toy.class_names, command="test", metrics={}))
    return folders


def test_recommended_guide_is_used_by_sample_and_overridable(run, pair, sample_bar):
    model, guide = pair
    code, stdout, err = run(["defaults", model, "--guide-model", guide, "--guide-weight", "2", "--json"])
    assert code == 0, err
    assert json.loads(stdout)["guide_model"] == "early"  # stored relative: it travels with its sibling
    assert load_diffusion(model).sampling["guide_weight"] == 2.0  # the manifest still verifies

    by_model, img_model = sample_bar(model, "model")
    by_flag, img_flag = sample_bar(model, "flag", "--guide-model", str(guide), "--guide-weight", "2")
    off, img_off = sample_bar(model, "off", "--guide-model", "none")
    assert (by_model["sources"]["guide_model"], by_model["guide_weight"]) == ("model", 2.0)
    assert by_model["guide_sha256"] == json.loads((guide / "manifest.json").read_text())["sha256"]["model.safetensors"]
    assert by_flag["sources"]["guide_model"] == "user" and off["guide_model"] is None
    np.testing.assert_array_equal(img_model, img_flag)  # the recommendation is exactly the flags
    assert not np.array_equal(img_model, img_off)  # and the guide really changes the images
    code, stdout, _ = run(["defaults", model, "--guide-model", "none", "--json"])
    assert code == 0 and "guide_model" not in json.loads(stdout)


def test_guide_bad_inputs_are_one_line_errors(run, pair, model_folder, tmp_path):
    model, _ = pair
    cases = [
        (["sample", model, "--class", "Bar", "--n", "1", "--steps", "2", "--out", tmp_path / "a",
          "--guide-model", model_folder("text")], "differs from"),  # a text model cannot guide a class model
        (["sample", model, "--class", "Bar", "--n", "1", "--steps", "2", "--out", tmp_path / "b",
          "--guide-model", tmp_path / "missing"], "does not exist"),
        (["sample", model, "--class", "Bar", "--n", "1", "--steps", "2", "--out", tmp_path / "c",
          "--guide-weight", "2"], "needs a guide model"),
        (["sample", model, "--class", "Bar", "--n", "1", "--steps", "2", "--out", tmp_path / "d",
          "--guide-model", model_folder("class"), "--guide-weight", "0.5"], "guide weight"),
        (["defaults", model, "--guide-model", model_folder("text")], "differs from"),
        (["defaults", model, "--guide-weight", "3"], "needs a guide"),
    ]
    for args, words in cases:
        code, _, err = run(args)
        assert code != 0 and words in err and len(err.strip().splitlines()) == 1, (args, err)
    assert "guide_model" not in load_diffusion(model).sampling  # a refused guide is never recorded


def test_shipped_guide_matches_the_shipped_model():
    """fmnist-ddpm recommends a guide; it must ship beside it, verify and fit (same kind, classes, schedule)."""
    pipe = DiffusionPipeline.from_folder("fmnist-ddpm")
    assert isinstance(pipe.denoiser(), AutoGuided) and pipe.sources["guide_model"] == "model"
    assert pipe.record()["guide_sha256"]
