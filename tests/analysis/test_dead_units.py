"""Dead-unit census: golden counts on a model whose dead units we plant, plus the CLI contract."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from genlens.analysis import dead_unit_census
from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle


def _handle(model: nn.Module) -> ModelHandle:
    return ModelHandle(model=model, name="tiny", mean=(0.0,), std=(1.0,), input_size=(1, 8, 8),
                       class_names=tuple("abcd"))


class Planted(nn.Module):
    """conv(4 ch) -> ReLU -> tokens -> Linear(6) -> GELU -> head; dead units planted via huge negative biases."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.act1 = nn.ReLU()
        self.fc = nn.Linear(4, 6)
        self.act2 = nn.GELU()
        self.head = nn.Linear(6, 4)
        with torch.no_grad():
            self.conv.weight.fill_(0.1)
            self.conv.bias.copy_(torch.tensor([0.0, -1e3, 0.0, -1e3]))  # channels 1 and 3 never fire
            self.fc.weight.fill_(0.1)
            self.fc.bias.copy_(torch.tensor([0.0, 0.0, -1e3, 0.0, 0.0, 0.0]))  # feature 2 never fires

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.conv(x))  # (B, 4, 8, 8)
        tokens = h.flatten(2).transpose(1, 2)  # (B, 64, 4)
        return self.head(self.act2(self.fc(tokens)).mean(1))


def test_planted_dead_units_are_counted_per_layer():
    report = dead_unit_census(_handle(Planted()), torch.rand(10, 1, 8, 8), batch_size=3)
    by_name = {c.name: c for c in report.layers}
    assert (by_name["act1"].units, by_name["act1"].dead) == (4, 2)
    assert (by_name["act2"].units, by_name["act2"].dead) == (6, 1)
    assert report.total_dead == 3 and report.images == 10
    assert report.to_dict()["fraction_dead"] == pytest.approx(3 / 10)


def test_threshold_and_model_mode_restored():
    model = Planted().train()
    report = dead_unit_census(_handle(model), torch.rand(4, 1, 8, 8), threshold=1e9)
    assert report.total_dead == report.total_units  # nothing exceeds a huge threshold
    assert model.training  # eval mode was temporary
    assert not any(m._forward_hooks for m in model.modules())  # hooks released


def test_model_without_activation_modules_is_one_line_error():
    with pytest.raises(GenlensError, match="no ReLU/GELU"):
        dead_unit_census(_handle(nn.Sequential(nn.Flatten(), nn.Linear(64, 4))), torch.rand(2, 1, 8, 8))


def test_cli_dead_json_and_chart(cli, tmp_path):
    code, out, err = cli(["dead", "fmnist-cnn", "--limit", "200", "--out", str(tmp_path), "--device", "cpu", "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["images"] == 200 and result["total_units"] > 0
    assert all(0.0 <= layer["fraction_dead"] <= 1.0 for layer in result["layers"])
    assert (tmp_path / "dead_units.png").stat().st_size > 1000
