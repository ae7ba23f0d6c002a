"""Layout sampling and editing: ``DiffusionPipeline.sample(layout, ...)``, ``edit_layout_sample`` (same noise
before and after), ``genlens diffusion train --cond layout``, ``sample --layout`` and ``edit``, and the bad
input of issue 27 (class out of range, blob outside the canvas, too many objects, a shipped model not trained)."""
from __future__ import annotations

import json

import pytest
import torch

from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.data.layout import Layout, LayoutItem
from genlens.diffusion import Denoiser, DiffusionPipeline, DiffusionTrainConfig, UNetConfig, save_diffusion
from genlens.diffusion.layout import apply_edit, edit_layout_sample, parse_edit
from genlens.errors import GenlensError

LAYOUT = "Sneaker@0.25,0.7;Bag@0.7,0.3"


@pytest.fixture(scope="module")
def layout_folder(tmp_path_factory):
    torch.manual_seed(0)
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("layout", num_classes=10, max_items=3, pad=0), steps=1,
                               data="fashion-scenes")
    folder = tmp_path_factory.mktemp("ddpm-layout")
    save_diffusion(folder, Denoiser(cfg.unet).eval(), config=cfg, class_names=CLASS_NAMES, command="test", metrics={})
    return folder


@pytest.fixture(scope="module")
def pipe(layout_folder):
    return DiffusionPipeline.from_folder(layout_folder, steps=3)


def test_pipeline_samples_a_layout_or_its_text_alike(pipe):
    a = pipe.sample(LAYOUT, 2, generator=torch.Generator().manual_seed(0))
    layout, notes = pipe.layout(LAYOUT)
    b = pipe.sample(layout, 2, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 1, 32, 32) and not notes
    torch.testing.assert_close(a, b)
    assert pipe.bundle.kind == "diffusion-layout"


def test_bad_layouts_are_one_line(pipe):
    with pytest.raises(GenlensError, match=r"at most 3"):
        pipe.layout("0@.1,.1;1@.2,.2;2@.3,.3;3@.4,.4")
    with pytest.raises(GenlensError, match="out of range"):
        pipe.layout("10@.5,.5")
    with pytest.raises(GenlensError, match="class 12"):
        pipe.layout(Layout((LayoutItem(12, 0.5, 0.5),)))
    layout, notes = pipe.layout("Bag@1.3,-0.2")
    assert (layout.items[0].x, layout.items[0].y) == (1.0, 0.0) and "clamped" in notes[0]


def test_edit_samples_from_the_same_noise(pipe):
    layout, _ = pipe.layout(LAYOUT)
    same = edit_layout_sample(pipe, layout, layout, torch.Generator().manual_seed(4), n=2)
    torch.testing.assert_close(same.before, same.after, rtol=0, atol=0)
    moved = parse_edit(layout, CLASS_NAMES, move="0:0.7,0.7")
    assert moved.items[0] == LayoutItem(7, 0.7, 0.7) and moved.items[1] == layout.items[1]
    res = edit_layout_sample(pipe, layout, moved, torch.Generator().manual_seed(4), n=2)
    torch.testing.assert_close(res.before, same.before, rtol=0, atol=0)  # the same seed: the same "before"
    assert not torch.equal(res.before, res.after)
    assert len(parse_edit(layout, CLASS_NAMES, add="Coat@0.5,0.5")) == 3
    assert apply_edit(layout, remove=0).items == layout.items[1:]
    with pytest.raises(GenlensError, match="does not exist"):
        parse_edit(layout, CLASS_NAMES, remove=5)
    with pytest.raises(GenlensError, match="exactly one"):
        parse_edit(layout, CLASS_NAMES, remove=0, add="Bag@.1,.1")


def test_cli_sample_layout_writes_images_and_says_what_was_clamped(run, layout_folder, tmp_path):
    out = tmp_path / "s"
    code, _, err = run(["sample", layout_folder, "--layout", "Sneaker@0.25,0.7;Bag@1.5,0.3", "--n", "3",
                        "--steps", "2", "--out", out])
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png", "grid.png", "run.json"]
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "clamped" in notes[0]
    config = json.loads((out / "run.json").read_text())["config"]
    assert config["layout"] == "Sneaker@0.25,0.7;Bag@1,0.3" and "clamped" in config["notes"][0]


@pytest.mark.parametrize(("layout", "message"), [("0@.1,.1;1@.2,.2;2@.3,.3;3@.4,.4", "at most 3"),
                                                 ("10@.5,.5", "out of range"), ("Bag", "CLASS@X,Y")])
def test_cli_bad_layout_is_one_line(run, layout_folder, tmp_path, layout, message):
    code, _, err = run(["sample", layout_folder, "--layout", layout, "--out", tmp_path])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_layout_and_model_kind_must_agree(run, layout_folder, model_folder, tmp_path):
    assert run(["sample", layout_folder, "--class", "Bag", "--out", tmp_path])[0] == 2
    code, _, err = run(["sample", model_folder("class"), "--layout", LAYOUT, "--out", tmp_path])
    assert code == 2 and "layout-conditional" in err
    code, _, err = run(["sample", layout_folder, "--layout", LAYOUT, "--filmstrip", "--out", tmp_path])
    assert code == 2 and "--filmstrip" in err


def test_shipped_name_resolves_or_says_how_to_train(run, tmp_path):
    """The shipped name samples a layout as a folder does; before its weights shipped it said how to train them."""
    from genlens.models.load import shipped_folder

    out = tmp_path / "s"
    code, _, err = run(["sample", "scenes-ddpm-layout", "--layout", LAYOUT, "--n", "2", "--steps", "2", "--out", out])
    if (shipped_folder("scenes-ddpm-layout") / "config.json").is_file():
        assert code == 0, err
        assert {"0.png", "1.png", "grid.png"} <= {p.name for p in out.iterdir()}
        assert json.loads((out / "run.json").read_text())["config"]["layout"] == LAYOUT
    else:
        assert code == 2 and "--cond layout" in err and len(err.strip().splitlines()) == 1


def test_cli_edit_moves_an_item(run, layout_folder, tmp_path):
    out = tmp_path / "e"
    code, stdout, err = run(["edit", layout_folder, "--layout", LAYOUT, "--move", "0:0.6,0.6", "--n", "2",
                             "--steps", "2", "--out", out, "--json"])
    assert code == 0, err
    result = json.loads(stdout)
    assert result["layout_after"] == "Sneaker@0.6,0.6;Bag@0.7,0.3"
    assert {p.name for p in (out / "before").iterdir()} == {"0.png", "1.png"} and (out / "grid.png").is_file()


def test_cli_trains_a_layout_model_on_scenes(run, tmp_path, monkeypatch, toy):
    import genlens.data.scenes as scenes_module

    monkeypatch.setattr(scenes_module, "load_scenes", lambda config, **_: toy.scenes(16, rgb=config.rgb))
    out = tmp_path / "m"
    code, _, err = run(["train", "--data", "fashion-scenes", "--cond", "layout", "--tiny", "--steps", "2",
                        "--batch", "4", "--grid-every", "2", "--out", out, "--json"])
    assert code == 0, err
    from PIL import Image

    width, height = Image.open(out / "samples" / "step_000002.png").size
    assert height > width  # one row per class (10), 8 positions along the diagonal
    meta = json.loads((out / "config.json").read_text())
    assert meta["kind"] == "diffusion-layout" and meta["unet"]["max_items"] == 3 and meta["unet"]["pad"] == 0
    assert meta["train"]["data"] == "fashion-scenes"
    code, _, err = run(["train", "--data", "fashion-mnist", "--cond", "layout", "--tiny", "--steps", "1",
                        "--limit", "8", "--out", tmp_path / "x"])
    assert code == 2 and "fashion-scenes" in err


def test_eval_refuses_a_layout_model_in_one_line(run, layout_folder):
    code, _, err = run(["eval", layout_folder, "--n", "20", "--steps", "2"])
    assert code == 2 and "layout-conditional" in err and len(err.strip().splitlines()) == 1
