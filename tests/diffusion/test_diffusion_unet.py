import pytest
import torch

from genlens.diffusion import UNetConfig, from_model_space, to_model_space
from genlens.errors import GenlensError
from genlens.utils.config_io import from_dict, to_dict


@pytest.mark.parametrize("cond", ["class", "text", "none"])
def test_denoiser_shapes(cond, toy):
    model = toy.denoiser(cond)
    x = torch.randn(3, 1, 32, 32)
    c = {"class": torch.tensor([0, 1, 2]), "text": toy.text_cond(3), "none": None}[cond]
    eps = model(x, torch.tensor([1, 500, 999]), c)
    assert eps.shape == x.shape and torch.isfinite(eps).all()


def test_class_model_has_a_null_class(toy):
    model = toy.denoiser("class")
    assert model.unet.config.num_class_embeds == 3 and model.null_class == 2
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([10, 10])
    dropped = model(x, t, torch.tensor([0, 1]), drop=torch.tensor([True, True]))
    torch.testing.assert_close(dropped, model(x, t, torch.tensor([2, 2])))


def test_text_null_embedding_is_learned_and_replaces_the_prompt(toy):
    model = toy.denoiser("text")
    assert model.null_tokens.requires_grad and model.null_tokens.shape == (8, 384)
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([10, 10])
    a = model(x, t, toy.text_cond(2, seed=1), drop=torch.tensor([True, True]))
    b = model(x, t, toy.text_cond(2, seed=2), drop=torch.tensor([True, True]))
    torch.testing.assert_close(a, b)  # the prompt no longer matters


def test_pad_and_crop_round_trip(toy):
    img = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    x = to_model_space(img)
    assert x.shape == (2, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert (x[..., :2, :] == -1).all()  # zero (background) padding
    torch.testing.assert_close(from_model_space(x), img.float() / 255)


def test_config_round_trip_and_validation(toy):
    cfg = UNetConfig.tiny("text")
    assert from_dict(UNetConfig, to_dict(cfg)) == cfg
    with pytest.raises(GenlensError, match="unknown"):
        UNetConfig(cond="audio")
    with pytest.raises(GenlensError, match="multiple of"):
        UNetConfig(block_out_channels=(30, 60, 60))
