"""GANs on any data spec at 32x32: fashion-scenes for every arch (the layout GAN with its layouts), the
data checks, and `gan train --data`."""
from __future__ import annotations

import json
import math

import pytest
import torch

import genlens.data.spec as data_spec
from genlens.data.base import ImageData
from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.errors import GenlensError
from genlens.gan import ALL_ARCHS, load_generator, train_gan
from genlens.gan.data import to_gan_images
from genlens.gan.layout import train_inputs


@pytest.fixture(scope="module")
def scenes(fmnist_test):
    return generate_scenes(SceneConfig(split="test", count=24), fmnist_test.take(200))


def test_scenes_are_32px_without_padding(scenes):
    x = to_gan_images(scenes)
    assert x.shape == (24, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert torch.allclose((x + 1) * 127.5, scenes.images.float(), atol=1e-4)  # the canvas as it is, not padded
    fmnist = ImageData(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), ("a",))
    assert to_gan_images(fmnist).shape == (2, 1, 32, 32)
    big = ImageData(torch.zeros(2, 3, 64, 64, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), ("a",))
    assert to_gan_images(big).shape == (2, 3, 64, 64)  # a 64-px canvas as it is
    odd = ImageData(torch.zeros(2, 3, 48, 48, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), ("a",))
    with pytest.raises(GenlensError, match="GANs draw 32, 64 or 128-px"):
        to_gan_images(odd, spec="folder:big")


@pytest.mark.parametrize("arch", ALL_ARCHS)
def test_every_arch_trains_on_scenes(arch, scenes, tiny_train):
    images = to_gan_images(scenes)
    inputs = train_inputs(arch, scenes, images, images[:8], size="tiny", held_out_data=scenes.take(8))
    assert inputs["model_config"].img_channels == 1
    run = train_gan(config=tiny_train(3), **inputs)
    assert run.step == 3 and all(math.isfinite(r["loss_g"]) and math.isfinite(r["loss_d"]) for r in run.history)
    assert math.isfinite(run.history[-1]["di"])  # the layout GAN's DI uses the held-out scenes' layouts
    if arch == "layout":
        assert inputs["model_config"].max_items == 3 and len(inputs["model_config"].class_names) == 10


def test_layout_gan_needs_data_with_layouts(scenes):
    plain = ImageData(scenes.images, scenes.labels, scenes.class_names)
    with pytest.raises(GenlensError, match="has no layouts; a layout GAN trains on fashion-scenes"):
        train_inputs("layout", plain, to_gan_images(plain), None)


def test_gan_train_on_a_data_spec(scenes, tmp_path, cli, monkeypatch):
    monkeypatch.setattr(data_spec, "load_data", lambda spec, **kw: scenes)
    code, out, _ = cli(["gan", "train", "--arch", "layout", "--data", "fashion-scenes", "--size", "tiny",
                        "--steps", "2", "--batch", "4", "--run-dir", tmp_path / "run", "--device", "cpu", "--json"])
    result = json.loads(out)
    assert code == 0 and result["model_folder"] == str(tmp_path / "run" / "model")
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["data"]["spec"] == "fashion-scenes" and config["name"] == "scenes-gan-layout"
    assert config["data"]["resolution"] == 32 and config["data"]["channels"] == 1
    assert load_generator(tmp_path / "run" / "model").config.use_layout


def test_cost_benchmark_writes_step_times_and_render_ms(bench_script, scenes, tmp_path, monkeypatch):
    bench = bench_script("gan_scenes")
    monkeypatch.setattr(bench, "load_gan_data", lambda spec, split: (to_gan_images(scenes), scenes))
    monkeypatch.setattr(bench, "BATCH", 4)
    out = tmp_path / "gan_scenes.json"
    assert bench.main(["--size", "tiny", "--steps", "2", "--archs", "stylegan2", "layout", "--render-repeats", "2",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["benchmark"] == "gan_scenes" and set(result["train"]) == {"stylegan2", "layout"}
    assert len(result["train"]["layout"]["step_s"]["samples"]) == 2
    assert result["train"]["layout"]["cpu_hours_80kimg"] > 0 and set(result["render_ms"]) == {"layout", "eqgan-sa"}
