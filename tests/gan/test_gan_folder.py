"""``genlens.gan.gan_folder``: a shipped name or a folder -> the GAN's model folder, one line otherwise."""
from __future__ import annotations

import pytest
import torch

import genlens.gan.io as gan_io
from genlens.errors import GenlensError
from genlens.gan import GanConfig, Generator, gan_folder, load_generator, save_generator
from genlens.gan.discriminator import has_discriminator


def test_a_shipped_name_is_its_weights_folder_and_a_folder_is_itself(tmp_path):
    shipped = gan_folder("fmnist-eqgan")
    assert shipped == gan_io.shipped_gan_folder("eqgan-sa") and (shipped / "model.safetensors").is_file()
    assert has_discriminator(shipped)  # what the explorer's D Grad-CAM toggle looks for
    torch.manual_seed(0)
    folder = save_generator(tmp_path / "g", Generator(GanConfig.tiny("stylegan2")), command="test", metrics={})
    assert gan_folder(str(folder)) == folder and not has_discriminator(folder)
    assert load_generator(folder).config.arch == "stylegan2"


def test_an_unknown_name_or_a_missing_shipped_model_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(GenlensError, match="neither a GAN folder nor a shipped GAN") as err:
        gan_folder(tmp_path / "nothing-here")
    assert "\n" not in str(err.value)
    monkeypatch.setattr(gan_io, "WEIGHTS_ROOT", tmp_path)  # a checkout without the scenes weights, say
    with pytest.raises(GenlensError, match="run `genlens gan train --arch layout --data fashion-scenes"):
        gan_folder("scenes-gan-layout")
