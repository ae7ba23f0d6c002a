"""The tour's Scenes section: real scenes with the shipped locator's detections, and layout samples from a tiny
layout GAN folder (or, without one, the command that trains it). Real scenes are a few generated ones."""
from __future__ import annotations

import pytest
import torch

import genlens.gan.io as gan_io
import genlens.report.scenes_section as ss
from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.data.layout import parse_layout
from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.errors import GenlensError
from genlens.gan import GanConfig, Generator, save_generator
from genlens.metrics.locator import Detection
from genlens.report.tour import TourContext, build_tour


@pytest.fixture
def ctx(tmp_path, monkeypatch, fmnist_test):
    scenes = generate_scenes(SceneConfig(split="test", count=40), fmnist_test)
    monkeypatch.setattr(ss, "test_scenes", lambda ctx, locator: scenes)
    monkeypatch.setattr(gan_io, "WEIGHTS_ROOT", tmp_path / "weights")  # no shipped layout GAN
    return TourContext(out=tmp_path / "tour", seed=0, device="cpu", data_dir=None, quick=True, log=lambda m: None)


def test_marks_and_boxes_land_where_asked_in_their_class_colour():
    images = torch.zeros(2, 1, 32, 32)
    out = ss.annotate(images, [[Detection(3, 0.5, 0.25, 0.9)], []], CLASS_NAMES,
                      boxes=[[], [(8, 0.25, 0.25, 0.75, 0.75)]])
    assert out.shape == (2, 3, 32 * ss.UPSCALE, 32 * ss.UPSCALE)
    colour = torch.tensor(ss.PALETTE[3]) / 255
    assert torch.allclose(out[0, :, 32, 64], colour, atol=1e-6)  # the cross's centre: y = 0.25, x = 0.5 of 128 px
    assert torch.allclose(out[1, :, 32, 64], torch.tensor(ss.PALETTE[8]) / 255, atol=1e-6)  # the box's top edge
    assert out[1, :, 64, 64].abs().sum() == 0  # inside the box: the black scene
    lay = parse_layout("Sneaker@0.25,0.7,0.4;Bag@0.7,0.3", CLASS_NAMES)[0]
    (c0, *b0), (c1, *b1) = ss.layout_boxes(lay)
    assert (c0, c1) == (7, 8) and b0 == pytest.approx([0.05, 0.5, 0.45, 0.9]) and b1[2] - b1[0] > 0


def test_without_a_layout_gan_the_section_shows_real_scenes_and_says_how_to_train_one(ctx):
    html = ss.section_scenes(ctx)
    assert (ctx.out / "scenes" / "real_detections.png").stat().st_size > 1000 and "scenes/real_detections.png" in html
    assert "genlens gan train --arch layout --data fashion-scenes" in html and "--layout-gan" in html
    n = ctx.numbers["scenes"]
    assert n["locator"] == "scenes-locator" and n["scored_scenes"] == 40 and 0 <= n["recall"] <= 1
    assert "layout_gan" not in n and not (ctx.out / "scenes" / "layout_samples.png").exists()


def test_a_given_layout_gan_draws_the_requested_layouts_and_an_edit_strip(ctx, tmp_path):
    torch.manual_seed(0)
    G = Generator(GanConfig.tiny("layout", class_names=CLASS_NAMES, max_items=3))
    ctx.layout_gan = save_generator(tmp_path / "lay", G, command="test", metrics={}, data="fashion-scenes")
    html = ss.section_scenes(ctx)
    n = ctx.numbers["scenes"]["layout_gan"]
    assert n["layouts"] == len(ss.REQUESTED) + 4 and n["latents"] == 2
    from PIL import Image

    with Image.open(ctx.out / "scenes" / "layout_samples.png") as im:
        assert im.width >= n["layouts"] * 32 * ss.UPSCALE and im.height >= 2 * 32 * ss.UPSCALE
    with Image.open(ctx.out / "scenes" / "layout_edit_strip.png") as im:
        assert im.width >= ss.STRIP * 32 * ss.UPSCALE
    assert "Sneaker@0.25,0.7;Bag@0.7,0.3" in html and "not a layout GAN" not in html
    ctx.layout_gan = save_generator(tmp_path / "eq", Generator(GanConfig.tiny("eqgan-sa")), command="t", metrics={})
    with pytest.raises(GenlensError, match="not a layout GAN") as err:
        ss.section_scenes(ctx)
    assert "\n" not in str(err.value)


def test_a_layout_gan_folder_that_is_not_there_is_a_one_line_error(tmp_path):
    with pytest.raises(GenlensError, match="--layout-gan"):
        build_tour(tmp_path / "out", layout_gan=tmp_path / "nowhere")
    assert not (tmp_path / "out").exists()


def test_the_eqgan_strip_moves_the_heatmap_ring_and_records_the_nearest_object(ctx, tmp_path, monkeypatch):
    import genlens.report.scenes_heatmap as sh

    html = sh.section_scenes_eqgan(ctx)  # no scenes-eqgan weights under the patched root: the command that trains it
    assert sh.TRAIN_COMMAND in html and "scenes" not in ctx.numbers
    torch.manual_seed(0)
    save_generator(gan_io.WEIGHTS_ROOT / "scenes-eqgan", Generator(GanConfig.tiny("eqgan-sa")), command="t",
                   metrics={}, data="fashion-scenes")
    html = sh.section_scenes_eqgan(ctx)
    n = ctx.numbers["scenes"]["eqgan_strip"]
    assert n["latents"] == 2 and len(n["nearest_object_dx"]) == 2 and n["blob_dx"] == pytest.approx(0.6)
    from PIL import Image

    with Image.open(ctx.out / "scenes" / "eqgan_heatmap_strip.png") as im:
        assert im.width >= ss.STRIP * 32 * ss.UPSCALE and im.height >= 2 * 32 * ss.UPSCALE
    assert "scenes/eqgan_heatmap_strip.png" in html


def test_a_ring_is_a_white_circle_around_its_point():
    out = ss.annotate(torch.zeros(1, 1, 32, 32), None, CLASS_NAMES, rings=[[(0.5, 0.5)]])
    assert torch.allclose(out[0, :, 64, 64 + ss.RING], torch.ones(3))  # on the circle, right of the centre
    assert out[0, :, 64, 64].abs().sum() == 0  # the centre itself stays the image's


def test_the_layout_diffusion_section_draws_layouts_and_a_strip_or_says_how_to_train(ctx, tmp_path, monkeypatch):
    import genlens.report.scenes_diffusion as sd
    from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, save_diffusion

    monkeypatch.setattr(sd, "layout_diffusion_source", lambda ctx: None)
    html = sd.section_layout_diffusion(ctx)
    assert "genlens diffusion train --data fashion-scenes --cond layout" in html and "scenes" not in ctx.numbers
    torch.manual_seed(0)
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("layout", num_classes=10, max_items=3, pad=0), steps=1,
                               data="fashion-scenes")
    folder = save_diffusion(tmp_path / "ddpm", Denoiser(cfg.unet).eval(), config=cfg, class_names=CLASS_NAMES,
                            command="test", metrics={})
    monkeypatch.setattr(sd, "layout_diffusion_source", lambda ctx: str(folder))
    html = sd.section_layout_diffusion(ctx)
    n = ctx.numbers["scenes"]["layout_diffusion"]
    assert n["layouts"] == len(ss.REQUESTED) + 4 and n["latents"] == 2 and n["steps"] == 20
    from PIL import Image

    with Image.open(ctx.out / "scenes" / "layout_diffusion_samples.png") as im:
        assert im.width >= n["layouts"] * 32 * ss.UPSCALE
    with Image.open(ctx.out / "scenes" / "layout_diffusion_edit_strip.png") as im:
        assert im.width >= ss.STRIP * 32 * ss.UPSCALE and im.height >= 2 * 32 * ss.UPSCALE
    assert "scenes/layout_diffusion_edit_strip.png" in html and "DDIM, 20 steps" in html
