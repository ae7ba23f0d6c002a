"""Unit visualization: each image drives its own unit up; layer and unit errors are one line."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from genlens.errors import GenlensError
from genlens.inversion.methods.pii import PIIConfig
from genlens.inversion.visualize import resolve_unit_layer, visualize
from genlens.models.handle import ModelHandle

FAST = PIIConfig(stage_steps=40, n_stages=2, ensemble=2, lr=0.05, color_mul=0.1, color_add=0.1)


class TinyConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 4, 3, padding=1))
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


@pytest.fixture
def tiny() -> ModelHandle:
    return ModelHandle(model=TinyConv().eval(), name="tiny", mean=(0.5,), std=(0.5,), input_size=(1, 12, 12),
                       class_names=("a", "b", "c"))


def _unit_means(handle: ModelHandle, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return handle.model.features(handle.normalize(images)).mean((2, 3))  # (B, 4)


def test_each_image_raises_its_own_unit(tiny):
    units = [0, 1, 2, 3]
    images = visualize(tiny, layer="features.2", units=units, preset=FAST, seed=0)
    assert images.shape == (4, 1, 12, 12) and 0 <= images.min() and images.max() <= 1
    optimised = _unit_means(tiny, images)
    noise = _unit_means(tiny, torch.rand(64, 1, 12, 12, generator=torch.Generator().manual_seed(1)))
    for i, u in enumerate(units):
        assert optimised[i, u] > noise[:, u].max(), f"unit {u} not driven above what noise reaches"
    again = visualize(tiny, layer="features.2", units=units, preset=FAST, seed=0)
    assert torch.equal(images, again)  # same seed, same images


def test_block_name_means_mlp_hidden_layer_for_token_models():
    import genlens

    assert resolve_unit_layer(genlens.load_model("fmnist-vit"), "blocks.3") == "blocks.3.mlp.act"
    assert resolve_unit_layer(genlens.load_model("fmnist-mixer"), "blocks.0") == "blocks.0.mlp_channels.act"
    assert resolve_unit_layer(genlens.load_model("fmnist-cnn"), "stages.2") == "stages.2"


def test_bad_layer_and_unit_are_one_line(tiny):
    with pytest.raises(GenlensError, match="has no layer 'nope'"):
        visualize(tiny, layer="nope", units=[0], preset=FAST)
    with pytest.raises(GenlensError, match=r"4 units; unit 9 is out of range 0\.\.3"):
        visualize(tiny, layer="features.2", units=[0, 9], preset=FAST)


def test_cli_visualize(cli, tmp_path):
    code, out, err = cli(["visualize", "fmnist-cnn", "--layer", "stages.2", "--unit", "0-1", "--steps-scale", "0.01",
                          "--out", str(tmp_path), "--device", "cpu", "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["units"] == [0, 1] and result["site"] == "stages.2"
    assert (tmp_path / "unit_0.png").is_file() and (tmp_path / "grid.png").is_file()
    code, out, err = cli(["visualize", "fmnist-cnn", "--layer", "stages.2", "--unit", "x", "--out", str(tmp_path)])
    assert code == 2 and "bad unit 'x'" in err
