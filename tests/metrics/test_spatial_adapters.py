"""The real generators' editing adapters (``layout-gan``, ``layout-diffusion``): they load a folder, an image is a
function of its latent and its layout only, the untrained floor has the same shape, and a model of the wrong kind
is one line. The measurement runs on them end to end with the analytic sprite finder."""
from __future__ import annotations

import pytest
import torch

from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.data.layout import Layout, LayoutItem
from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, save_diffusion
from genlens.errors import GenlensError
from genlens.gan import GanConfig, Generator, save_generator
from genlens.metrics.editing import EditingConfig, measure_editing
from genlens.metrics.spatial_analytic import sprite_finder
from genlens.metrics.spatial_generators import load_adapter, sample_images

LAYOUTS = [Layout((LayoutItem(i % 10, 0.3 + 0.04 * i, 0.5, 0.3),)) for i in range(6)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    torch.manual_seed(0)
    gan = save_generator(root / "gan", Generator(GanConfig.tiny("layout", class_names=CLASS_NAMES, max_items=3)),
                         command="test", metrics={}, data="fashion-scenes")
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("layout", num_classes=10, max_items=3, pad=0), steps=1,
                               data="fashion-scenes")
    ddpm = save_diffusion(root / "ddpm", Denoiser(cfg.unet).eval(), config=cfg, class_names=CLASS_NAMES,
                          command="test", metrics={})
    sel = save_generator(root / "sel", Generator(GanConfig.tiny("eqgan-sa")), command="test", metrics={})
    base = save_generator(root / "base", Generator(GanConfig.tiny("stylegan2")), command="test", metrics={})
    return {"layout-gan": gan, "layout-diffusion": ddpm, "heatmap-gan": sel, "plain": base}


@pytest.mark.parametrize("adapter", ["layout-gan", "layout-diffusion", "heatmap-gan"])
def test_adapter_is_a_function_of_latent_and_layout(folders, adapter):
    gen = load_adapter(f"{adapter}:{folders[adapter]}")
    z = gen.latents(3, torch.Generator().manual_seed(1))
    a = gen.sample(z, LAYOUTS[:3])
    assert a.shape == (3, 1, gen.canvas, gen.canvas) and 0 <= a.min() and a.max() <= 1
    b = torch.cat([gen.sample(z[i:i + 1], LAYOUTS[i:i + 1]) for i in range(3)])  # batch-independent
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    moved = gen.sample(z, [LAYOUTS[0].moved(0, 0.3, 0.0), *LAYOUTS[1:3]])
    assert not torch.equal(moved[0], a[0]) and torch.allclose(moved[1:], a[1:], atol=1e-4)
    floor = load_adapter(f"{adapter}:{folders[adapter]}", untrained=True, seed=3)
    assert floor.canvas == gen.canvas and "untrained" in floor.name
    assert not torch.allclose(floor.sample(z, LAYOUTS[:3]), a)


@pytest.mark.parametrize("adapter", ["layout-gan", "layout-diffusion", "heatmap-gan"])
def test_measurement_runs_on_the_adapter(folders, adapter):
    gen = load_adapter(f"{adapter}:{folders[adapter]}")
    out = measure_editing(gen, sprite_finder, LAYOUTS, config=EditingConfig(n=6, batch=3, resamples=5,
                                                                            fid_resamples=0))
    assert out["generator"] == gen.name and "slope" in out


def test_wrong_kind_is_one_line(folders):
    with pytest.raises(GenlensError, match="not a layout GAN"):
        load_adapter(f"layout-gan:{folders['plain']}")
    with pytest.raises(GenlensError, match="without heatmaps"):
        load_adapter(f"heatmap-gan:{folders['plain']}")
    with pytest.raises(GenlensError, match="not a diffusion model"):
        load_adapter(f"layout-diffusion:{folders['plain']}")
    with pytest.raises(GenlensError, match="class-conditional, not a layout model"):
        load_adapter("layout-diffusion:fmnist-ddpm")


def test_free_gan_ignores_layouts_and_samples_freely(folders):
    gen = load_adapter(f"free-gan:{folders['plain']}")
    z = gen.latents(2, torch.Generator().manual_seed(0))
    a = gen.sample(z, LAYOUTS[:2])
    assert a.shape == (2, 1, 32, 32) and torch.equal(a, gen.sample(z, [LAYOUTS[0].moved(0, 0.3, 0.0), LAYOUTS[1]]))
    free = sample_images(gen, 5, seed=1, batch=2)
    assert free.shape == (5, 1, 32, 32) and torch.equal(free, sample_images(gen, 5, seed=1, batch=2))
    assert 0 <= float(free.min()) and float(free.max()) <= 1
    heat = sample_images(load_adapter(f"heatmap-gan:{folders['heatmap-gan']}"), 3, seed=0)  # its own heatmaps
    assert heat.shape == (3, 1, 32, 32) and not torch.equal(heat[0], heat[1])
    assert "untrained" in load_adapter(f"free-gan:{folders['plain']}", untrained=True).name
    with pytest.raises(GenlensError, match="use heatmap-gan"):
        load_adapter(f"free-gan:{folders['heatmap-gan']}")
    with pytest.raises(GenlensError, match="use layout-gan"):
        load_adapter(f"free-gan:{folders['layout-gan']}")
    with pytest.raises(GenlensError, match="pass the layouts"):
        sample_images(load_adapter("analytic-follow"), 3)
    laid = sample_images(load_adapter("analytic-follow"), 4, layouts=LAYOUTS[:2], seed=0)  # layouts cycled
    assert laid.shape == (4, 1, 32, 32)
