"""Sampling, interpolation, editing and the editing score's maths."""
from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.gan import GanConfig, Generator, edit, interpolate, sample
from genlens.gan.edit import change_center_of_mass, displacement_correlation, move_level
from genlens.gan.spatial import canvas_to_heat, heat_to_canvas, render_heatmap


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Generator(GanConfig.tiny("eqgan-sa")).eval()


def test_sample_is_seeded(G):
    a, b, c = sample(G, 3, 7), sample(G, 3, 7), sample(G, 3, 8)
    assert a.shape == (3, 1, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)


def test_interpolate_endpoints(G):
    for space in ("z", "w"):
        frames = interpolate(G, 1, 2, steps=4, space=space)
        assert frames.shape == (4, 1, 32, 32)
        assert torch.allclose(frames[0], sample(G, 1, 1)[0], atol=1e-5)
    with pytest.raises(GenlensError, match="unknown interpolation space"):
        interpolate(G, 1, 2, space="x")


def test_edit_moves_only_the_level(G):
    before = edit(G, 3, center=(0, 0)).before.centers[1][0, 0]
    same = edit(G, 3, center=tuple(heat_to_canvas(before, 32).tolist()))
    assert torch.allclose(same.original, same.edited, atol=1e-5)
    res = edit(G, 3, center=(0.95, 0.05), level=1)  # canvas convention: right, near the top
    x, y = res.after.centers[1][0, 0].tolist()
    assert x > 0.85 and y < -0.85
    assert res.summary()["center_before"] == pytest.approx(heat_to_canvas(before, 32).tolist())
    assert torch.equal(res.after.maps[2], res.before.maps[2]) and torch.equal(res.after.maps[3], res.before.maps[3])
    assert not torch.equal(res.original, res.edited)
    assert torch.equal(res.original, sample(G, 1, 3))
    lv3 = move_level(res.before, 3, (0.2, 0.1), size=32)
    assert lv3.centers[3].shape == (1, 4, 2) and lv3.centers[3].abs().max() <= 1


@pytest.mark.parametrize("kw, match", [
    ({"center": (1.2, 0.0)}, r"centre \(1.2, 0\) is outside the canvas"),
    ({"center": (0.5, -0.5)}, r"centre \(0.5, -0.5\) is outside the canvas"),
    ({"center": (0.0, 0.0), "level": 4}, "unknown heatmap level 4"),
])
def test_edit_bad_input(G, kw, match):
    with pytest.raises(GenlensError, match=match):
        edit(G, 0, **kw)


def test_edit_needs_heatmaps():
    with pytest.raises(GenlensError, match="no heatmap input"):
        edit(Generator(GanConfig.tiny("stylegan2")), 0, center=(0, 0))


def test_center_of_mass_follows_a_moving_blob():
    """Synthetic 'generator': the image is the heatmap itself, so the change follows the centre."""
    sig = torch.tensor([[0.05]])
    c0 = torch.tensor([[[0.1, -0.2]]])
    before = render_heatmap(c0, sig, 32)
    shifts, moves = [], []
    for d in [(0.5, 0.0), (-0.4, 0.3), (0.0, 0.6), (-0.3, -0.5)]:
        c1 = c0 + torch.tensor(d)
        after = render_heatmap(c1, sig, 32)
        com = change_center_of_mass(before, after)[0]
        # |change| is two blobs of equal mass at c0 and c1, so its centre of mass is their midpoint
        assert torch.allclose(com, (c0[0, 0] + c1[0, 0]) / 2, atol=0.03)
        shifts.append(torch.tensor(d))
        moves.append(com - c0[0, 0])
    r = displacement_correlation(torch.stack(shifts), torch.stack(moves))
    assert r > 0.99
    assert displacement_correlation(torch.stack(shifts), -torch.stack(moves)) < -0.99
    assert change_center_of_mass(before, before).abs().max() == 0


def test_canvas_and_heat_coordinates_match_pixel_centres():
    # pixel i of a 32-px canvas spans [i, i + 1): its centre (i + 0.5) / 32 is the blob grid's -1 + 2 i / 31
    i = torch.arange(32.0)
    xy = torch.stack([(i + 0.5) / 32, (31 - i + 0.5) / 32], dim=1)
    heat = canvas_to_heat(xy, 32)
    assert torch.allclose(heat[:, 0], -1 + 2 * i / 31, atol=1e-6)
    assert torch.allclose(heat[:, 1], 1 - 2 * i / 31, atol=1e-6)
    assert torch.allclose(heat_to_canvas(heat, 32), xy, atol=1e-6)
    assert canvas_to_heat(torch.tensor([0.0, 1.0]), 32).tolist() == [-1.0, 1.0]  # the border's half pixel clamps
    # a blob rendered at a canvas centre peaks at that pixel (x = column, y = row)
    m = render_heatmap(canvas_to_heat(torch.tensor([[[(20 + 0.5) / 32, (5 + 0.5) / 32]]]), 32), torch.tensor([[0.05]]), 32)
    assert divmod(int(m[0, 0].argmax()), 32) == (5, 20)
