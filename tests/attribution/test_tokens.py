"""Token layers of ViT / MLP-Mixer: (B, N, D) -> (B, D, h, w), prefix tokens dropped."""
from __future__ import annotations

import pytest
import torch

from genlens.attribution import default_layer, grad_cam, handle_cam, tokens_to_map
from genlens.errors import GenlensError


def test_tokens_to_map_restores_the_grid_and_drops_prefix_tokens():
    grid = torch.randn(2, 4, 7, 7)
    tokens = grid.flatten(2).transpose(1, 2)  # (2, 49, 4), row-major like timm's patch embedding
    with_cls = torch.cat([torch.randn(2, 1, 4), tokens], dim=1)
    with_regs = torch.cat([torch.randn(2, 5, 4), tokens], dim=1)
    assert torch.equal(tokens_to_map(tokens), grid)
    assert torch.equal(tokens_to_map(with_cls), grid)
    assert torch.equal(tokens_to_map(with_cls, num_prefix_tokens=1), grid)
    assert torch.equal(tokens_to_map(with_regs, num_prefix_tokens=5), grid)
    with pytest.raises(GenlensError, match="cannot arrange 35 tokens"):
        tokens_to_map(torch.randn(1, 35, 4))


@pytest.mark.parametrize("layer", ["blocks.5.norm1", "blocks.5"])
def test_vit_token_layers_give_7x7_cams(vit_handle, images, layer):
    raw = handle_cam(vit_handle, images, layer=layer, target=3, upsample=False, normalize=False)
    assert raw.shape == (3, 7, 7)


def test_vit_default_layer_is_last_norm1_and_not_all_zero(vit_handle, images):
    # the class token is pooled after the last block, so that block's patch outputs get zero gradient
    assert default_layer(vit_handle) == "blocks.5.norm1"
    last = handle_cam(vit_handle, images, layer="blocks.5", target=3, upsample=False, normalize=False)
    assert last.abs().max() == 0
    cam = handle_cam(vit_handle, images, target=3)
    assert cam.shape == (3, 28, 28) and cam.flatten(1).max(1).values.min() > 0.99


def test_mixer_last_block_gives_7x7_cams(mixer_handle, images):
    assert default_layer(mixer_handle) == "blocks.5"
    layer = mixer_handle.layer("blocks.5")
    raw = grad_cam(mixer_handle, images, layer=layer, target=None, upsample_to=None, normalize=False)
    assert raw.shape == (3, 7, 7) and raw.abs().max() > 0
    assert handle_cam(mixer_handle, images).shape == (3, 28, 28)
