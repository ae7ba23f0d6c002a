"""Smoke run of bench/spatial.py: a tiny locator, the analytic generators, a quick well-formed result file."""
from __future__ import annotations

import json

import pytest
import torch
from tests.conftest import load_script

from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.errors import GenlensError
from genlens.metrics.editing import SpatialGenerator
from genlens.metrics.locator import LocatorConfig, save_locator
from genlens.metrics.locator_train import train_locator
from genlens.metrics.spatial_generators import SPATIAL_GENERATORS, LocatorFeatures, load_adapter


@pytest.fixture(scope="module")
def tiny_locator(fmnist_test, tmp_path_factory):
    scenes = generate_scenes(SceneConfig(split="test", count=64), fmnist_test)
    model = train_locator(LocatorConfig(width=8), scenes, steps=2, batch=8)
    return save_locator(tmp_path_factory.mktemp("loc") / "tiny", model, command="test", metrics={}, threshold=0.3), model


def test_adapters_and_locator_features(tiny_locator):
    assert {"analytic-follow", "analytic-ignore", "paste-follow"} <= set(SPATIAL_GENERATORS.available())
    gen = load_adapter("analytic-follow")
    floor = load_adapter("analytic-follow", untrained=True)
    assert isinstance(gen, SpatialGenerator) and gen.name != floor.name and not floor.follow
    with pytest.raises(GenlensError, match="unknown spatial generator adapter"):
        load_adapter("no-such-generator:somewhere")
    feats = LocatorFeatures(tiny_locator[1])
    x = torch.rand(5, 1, 32, 32)
    assert feats.features(x).shape == (5, feats.dim) and feats.logits(x).shape == (5, 10)


@pytest.mark.timeout(300)
def test_quick_run_writes_strict_json(tiny_locator, tmp_path):
    bench = load_script("bench/spatial")
    out = tmp_path / "spatial.json"
    bench.main(["--quick", "--locator", str(tiny_locator[0]), "--features", "pooled-pixels", "--out", str(out)])
    result = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert result["config"]["seeds"] == list(bench.SEEDS) and len(bench.SEEDS) == 3
    assert result["extractor"] == "pooled-pixels" and result["locator"]["test"]["images"] == bench.QUICK["locator_scenes"]
    gens = result["generators"]
    assert set(gens) == {"paste-follow", "paste-follow (floor)"}
    for g in gens.values():
        assert set(g["seeds"]) == {"0", "1", "2"} and g["over_seeds"]["shortened"] >= 0
        assert all(s["edits"] == bench.QUICK["n"] and "fid_edited_vs_unedited" in s for s in g["seeds"].values())
        # no per-seed bootstrap for the edit FID (biased by duplicates): its interval is the t over seeds
        assert all(s["fid_edited_vs_unedited"]["low"] is None for s in g["seeds"].values())
        fid = g["over_seeds"]["fid_edited_vs_unedited"]
        assert fid["seeds"] == 3 and fid["low"] <= fid["mean"] <= fid["high"]
    assert result["config"]["edit_fid_resamples"] == 0
    assert gens["paste-follow (floor)"]["floor"] is True


def test_paster_puts_real_items_on_the_layout(fmnist_test):
    from genlens.data.layout import Layout, LayoutItem
    from genlens.metrics.spatial_paste import ItemPaster

    gen = ItemPaster(fmnist_test)
    assert isinstance(gen, SpatialGenerator)
    lays = [Layout((LayoutItem(7, 0.3, 0.6, 0.4), LayoutItem(1, 0.75, 0.25, 0.35)))]
    z = gen.latents(1, torch.Generator().manual_seed(0))
    img = gen.sample(z, lays)
    assert img.shape == (1, 1, 32, 32) and 0 <= float(img.min()) and float(img.max()) <= 1
    assert torch.equal(img, gen.sample(z, lays))  # same latent, same image
    on = (img[0, 0] > 0).nonzero().float() + 0.5  # (P, 2) y, x pixel centres
    left = on[on[:, 1] < 16]
    assert abs(float(left[:, 1].min() + left[:, 1].max()) / 2 - 0.3 * 32) <= 1.0  # box centre on the layout
    moved = gen.sample(z, [lays[0].moved(0, 0.25, 0.0)])
    assert not torch.equal(moved, img) and torch.equal(ItemPaster(fmnist_test, follow=False).sample(z, lays),
                                                       ItemPaster(fmnist_test, follow=False).sample(z, [lays[0].moved(0, 0.25, 0.0)]))
