"""Heatmap colouring and overlays: shapes, ranges, endpoints."""
from __future__ import annotations

import pytest
import torch

from genlens.attribution import COLORMAPS, colorize, overlay
from genlens.errors import GenlensError


@pytest.mark.parametrize("cmap", COLORMAPS.available())
def test_colormaps_map_unit_interval_to_rgb(cmap):
    ramp = torch.linspace(0, 1, 64).view(1, 8, 8)
    rgb = colorize(ramp, cmap=cmap)
    assert rgb.shape == (1, 3, 8, 8) and rgb.min() >= 0 and rgb.max() <= 1
    assert colorize(ramp[0], cmap=cmap).shape == (3, 8, 8)


def test_jet_and_turbo_endpoints():
    ends = torch.tensor([[0.0, 1.0]])
    jet = colorize(ends, cmap="jet")[:, 0, :]
    torch.testing.assert_close(jet[:, 0], torch.tensor([0.0, 0.0, 0.5]))  # dark blue
    torch.testing.assert_close(jet[:, 1], torch.tensor([0.5, 0.0, 0.0]))  # dark red
    turbo = colorize(torch.tensor([[0.0, 0.5, 1.0]]), cmap="turbo")[:, 0, :]  # (3 channels, 3 points)
    assert turbo[:, 0].max() < 0.3  # dark at the low end
    assert turbo[1, 1] == turbo[:, 1].max()  # green in the middle
    assert turbo[0, 2] > 0.4 and turbo[0, 2] > 4 * turbo[1:, 2].max()  # red at the high end


def test_overlay_blends_and_resizes():
    gray = torch.rand(2, 1, 28, 28)
    heat = torch.rand(2, 7, 7)
    out = overlay(gray, heat, alpha=0.4)
    assert out.shape == (2, 3, 28, 28) and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(overlay(gray, heat, alpha=0.0), gray.expand(-1, 3, -1, -1))
    full = torch.rand(2, 28, 28)
    torch.testing.assert_close(overlay(gray, full, alpha=1.0), colorize(full))
    rgb = torch.rand(3, 20, 20)
    assert overlay(rgb, torch.rand(20, 20)).shape == (3, 20, 20)


def test_overlay_rejects_bad_input():
    with pytest.raises(ValueError, match="overlay expects"):
        overlay(torch.rand(2, 2, 8, 8), torch.rand(2, 8, 8))
    with pytest.raises(ValueError, match="alpha"):
        overlay(torch.rand(1, 1, 8, 8), torch.rand(1, 8, 8), alpha=2.0)
    with pytest.raises(GenlensError, match="unknown colormap 'viridis'"):
        colorize(torch.rand(4, 4), cmap="viridis")
