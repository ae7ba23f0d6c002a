"""The layout-conditioned GAN: the layout reaches G and D, the fast renderer draws what G draws, sampling and
editing by layout (library and CLI), and one-line errors on bad layouts."""
from __future__ import annotations

import json

import pytest
import torch

import genlens.gan.io as gan_io
from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.data.layout import Layout, LayoutItem, parse_layout
from genlens.errors import GenlensError
from genlens.gan import Discriminator, FixedLatentRenderer, GanConfig, Generator, sample, save_generator
from genlens.gan.edit import edit_layout, move_items
from genlens.gan.layout import layout_channels

TEXT = "Sneaker@0.25,0.7;Bag@0.7,0.3"


@pytest.fixture(scope="module")
def config():
    return GanConfig.tiny("layout", class_names=CLASS_NAMES, max_items=3)


@pytest.fixture(scope="module")
def G(config):
    torch.manual_seed(0)
    return Generator(config).eval()


@pytest.fixture(scope="module")
def folder(G, tmp_path_factory):
    path = tmp_path_factory.mktemp("gan") / "tiny-layout"
    save_generator(path, G, command="test", metrics={}, data="fashion-scenes")
    return path


def test_layout_steers_g_and_d_sees_it(G, config):
    layout = parse_layout(TEXT, CLASS_NAMES)[0]
    moved = move_items(layout, [(0, (0.8, 0.8))])
    a, b = sample(G, 2, 5, layout=layout), sample(G, 2, 5, layout=moved)
    assert a.shape == (2, 1, 32, 32) and torch.equal(a, sample(G, 2, 5, layout=layout))
    assert (a - b).abs().amax() > 0.1  # the layout changes the image even untrained
    D = Discriminator(config)
    x = torch.zeros(2, 1, 32, 32)
    ca, cb = (layout_channels(config, [lay] * 2) for lay in (layout, moved))
    assert D.fromrgb.weight.shape[1] == 1 + len(CLASS_NAMES)
    assert not torch.allclose(D(x, ca), D(x, cb))
    with pytest.raises(GenlensError, match="needs the layout"):
        D(x)


def test_fast_renderer_draws_what_g_draws(G, config):
    layouts = [parse_layout(t, CLASS_NAMES)[0] for t in (TEXT, "0@0.5,0.5", "Bag@0.1,0.9;Shirt@0.6,0.6;9@0.9,0.1")]
    channels = layout_channels(config, layouts)
    with torch.no_grad():
        w = G.mapping(torch.randn(1, config.z_dim, generator=torch.Generator().manual_seed(1)))
        direct = G.synthesize(w.expand(3, -1), layout=channels, noise_mode="const")
        fast = FixedLatentRenderer(G, w)(layout=channels)
    assert torch.allclose(fast, direct, atol=1e-4)


def test_edit_keeps_the_latent(G):
    layout = parse_layout(TEXT, CLASS_NAMES)[0]
    res = edit_layout(G, 3, layout, move_items(layout, [(1, (0.2, 0.2))]), n=2)
    assert torch.equal(res.original, sample(G, 2, 3, layout=layout))
    assert res.after.items[1] == LayoutItem(8, 0.2, 0.2) and res.after.items[0] == layout.items[0]
    same = edit_layout(G, 3, layout, layout, n=2)
    assert torch.equal(same.original, same.edited)
    with pytest.raises(GenlensError, match="move index 2 is out of range"):
        move_items(layout, [(2, (0.5, 0.5))])


def test_cli_sample_and_edit(folder, tmp_path, cli):
    code, out, _ = cli(["gan", "sample", folder, "--layout", TEXT, "--n", "3", "--seed", "0", "--out", tmp_path / "s",
                        "--json"])
    result = json.loads(out)
    assert code == 0 and result["layout"] == TEXT
    assert all((tmp_path / "s" / f).is_file() for f in ("0.png", "2.png", "grid.png", "run.json"))
    code, out, err = cli(["gan", "edit", folder, "--layout", TEXT, "--move", "0:0.5,1.4", "--n", "2", "--out",
                          tmp_path / "e", "--json"])
    result = json.loads(out)
    assert code == 0 and result["layout_after"] == "Sneaker@0.5,1;Bag@0.7,0.3"
    assert err.count("clamped to (0.5, 1)") == 1
    assert all((tmp_path / "e" / f).is_file() for f in ("original_1.png", "edited_0.png", "layout_after.png"))
    code, out, _ = cli(["gan", "interpolate", folder, "--layout", TEXT, "--steps", "3", "--out", tmp_path / "i",
                        "--json"])
    assert code == 0 and (tmp_path / "i" / "grid.png").is_file()


def test_cli_bad_layouts(folder, tmp_path, cli, monkeypatch):
    eqgan = tmp_path / "eqgan"
    save_generator(eqgan, Generator(GanConfig.tiny("eqgan-sa")), command="test", metrics={})
    monkeypatch.setattr(gan_io, "WEIGHTS_ROOT", tmp_path / "nothing")
    cases = [
        (["sample", folder, "--layout", "10@0.5,0.5"], "class index 10 is out of range"),
        (["sample", folder, "--layout", "0@.1,.1;1@.5,.5;2@.9,.9;3@.1,.9"], "trained with at most 3; remove 1"),
        (["sample", folder], "pass --layout"),
        (["sample", eqgan, "--layout", TEXT], "takes no layout"),
        (["edit", eqgan, "--layout", TEXT, "--move", "0:0.5,0.5"], "takes no layout"),
        (["edit", folder, "--layout", TEXT], "--move I:X,Y"),
        (["edit", folder, "--layout", TEXT, "--move", "0-0.5,0.5"], "is not I:X,Y"),
        (["edit", folder, "--layout", TEXT, "--move", "5:0.5,0.5"], "move index 5 is out of range"),
        (["edit", folder, "--layout", TEXT, "--center", "0.5,0.5"], "use --move I:X,Y"),
        (["edit", eqgan], "pass --center X,Y"),
        (["sample", "scenes-gan-layout"], "--data fashion-scenes --out"),
        (["interpolate", folder], "pass --layout"),
        (["eval", folder, "--locator", tmp_path / "no-locator"], "neither a locator folder nor a shipped locator"),
    ]
    for args, words in cases:
        code, out, err = cli(["gan", *args, "--out", tmp_path / "o"])
        assert code == 2 and out == "", args
        assert len(err.strip().splitlines()) == 1 and words in err, (args, err)


def test_sample_outside_canvas_is_clamped_once(folder, tmp_path, cli):
    code, out, err = cli(["gan", "sample", folder, "--layout", "Bag@1.3,-0.2", "--n", "1", "--out", tmp_path / "c",
                          "--json"])
    assert code == 0 and json.loads(out)["layout"] == "Bag@1,0"
    assert err.count("outside the canvas, clamped to (1, 0)") == 1


def test_layout_with_more_items_than_trained_is_refused(config):
    many = Layout(tuple(LayoutItem(0, 0.5, 0.5) for _ in range(4)))
    with pytest.raises(GenlensError, match="at most 3"):
        layout_channels(config, [many])
