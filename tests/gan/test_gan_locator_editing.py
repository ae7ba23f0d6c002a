"""The locator's editing measurement of GANs (issue 27): the library entry and ``genlens gan eval``, on tiny
GANs, a tiny locator and a few generated test scenes (the real scenes are patched out of the CLI)."""
from __future__ import annotations

import json
import math

import pytest
import torch

import genlens.cli.gan_eval as gan_eval
from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.errors import GenlensError
from genlens.gan import GanConfig, Generator, save_generator
from genlens.gan.evaluate import editing_reason, locator_editing
from genlens.metrics.locator import LocatorConfig, build_locator, save_locator


@pytest.fixture(scope="module")
def scenes(fmnist_test):
    return generate_scenes(SceneConfig(split="test", count=40), fmnist_test)


@pytest.fixture(scope="module")
def locator(tmp_path_factory):
    torch.manual_seed(0)
    model = build_locator(LocatorConfig(width=4)).eval()
    return save_locator(tmp_path_factory.mktemp("loc") / "tiny", model, command="test", metrics={}, threshold=0.05), model


def _g(arch: str, **kw) -> Generator:
    torch.manual_seed(0)
    return Generator(GanConfig.tiny(arch, **kw)).eval()


@pytest.mark.parametrize("arch", ["eqgan-sa", "layout"])
def test_locator_editing_of_heatmap_and_layout_gans(arch, scenes, locator):
    layout = {"class_names": CLASS_NAMES, "max_items": 3} if arch == "layout" else {}
    G = _g(arch, **layout)
    r = locator_editing(G, locator[1], scenes, name="tiny", n=6, seed=1, threshold=0.05, resamples=5, fid_resamples=2)
    assert r["edits"] == 6 and r["generator"] == "tiny" and r["class_aware"] == (arch == "layout")
    assert r["extractor"] == "locator-backbone" and r["config"]["seed"] == 1 and 0 <= r["shortened"] <= 6
    assert 0 <= r["object_found"]["value"] <= 1 and "value" in r["slope"]
    again = locator_editing(G, locator[1], scenes, name="tiny", n=6, seed=1, threshold=0.05, resamples=5,
                            fid_resamples=None)
    assert again["count_kept"] == r["count_kept"] and again["extractor"] is None  # seeded; FID skipped


def test_locator_editing_says_when_it_does_not_apply(scenes, locator):
    assert "neither layouts nor heatmaps" in editing_reason(_g("stylegan2"), locator[1])
    assert "no locator given" in editing_reason(_g("eqgan-sa"), None)
    rgb = _g("eqgan-sa", img_channels=3)
    assert "1-channel scenes" in editing_reason(rgb, locator[1])
    with pytest.raises(GenlensError, match="3-channel images") as err:
        locator_editing(rgb, locator[1], scenes, name="rgb", n=4)
    assert "\n" not in str(err.value)
    assert editing_reason(_g("sel-only"), locator[1]) is None


def test_gan_eval_reports_the_editing_measurement_of_a_layout_gan(scenes, locator, tmp_path, cli, monkeypatch):
    monkeypatch.setattr(gan_eval, "_test_scenes", lambda model, data_dir: scenes)
    folder = save_generator(tmp_path / "lay", _g("layout", class_names=CLASS_NAMES, max_items=3), command="test",
                            metrics={}, data="fashion-scenes")
    code, out, err = cli(["gan", "eval", folder, "--edits", "4", "--locator", locator[0], "--json"])
    assert code == 0, err
    r = json.loads(out)
    assert r["locator_editing"]["edits"] == 4 and "fid" not in r and r["data"] == "fashion-scenes"
    assert r["locator_editing"]["config"]["threshold"] == 0.05  # the locator folder's own threshold
    assert math.isfinite(r["locator_editing"]["object_found"]["value"])
    # the old flag keeps working, with a notice
    code, out, err = cli(["gan", "eval", folder, "--editing-latents", "3", "--locator", locator[0], "--json"])
    assert code == 0 and json.loads(out)["locator_editing"]["edits"] == 3 and "--edits" in err
    code, out, err = cli(["gan", "eval", folder, "--locator", tmp_path / "nowhere", "--json"])
    assert code == 2 and out == "" and "neither a locator folder nor a shipped locator" in err
