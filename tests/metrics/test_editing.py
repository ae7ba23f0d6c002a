"""The editing measurement: golden maths, and analytic generators that follow or ignore the layout."""
from __future__ import annotations

import math

import pytest
import torch

from genlens.data.layout import Layout, LayoutItem
from genlens.errors import GenlensError
from genlens.metrics.edit_stats import bootstrap, mean_of, percentile_interval, slope_r2
from genlens.metrics.editing import EditingConfig, SpatialGenerator, draw_moves, measure_editing, score_edit
from genlens.metrics.locator import Detection
from genlens.metrics.spatial_analytic import PooledPixels, SpriteGenerator, sprite_finder


def layouts(n: int = 12) -> list[Layout]:
    g = torch.Generator().manual_seed(3)
    out = []
    for i in range(n):
        x, y = (0.3 + 0.4 * torch.rand(2, generator=g)).tolist()
        out.append(Layout((LayoutItem(i % 10, x, y, 0.3),)))
    return out


def test_slope_r2_golden():
    d = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    assert slope_r2(d, d) == (1.0, 1.0)
    s, r2 = slope_r2(d, 0.5 * d)
    assert s == pytest.approx(0.5) and r2 == pytest.approx(1.0)
    # D = (1, 0, 0, 1, 0, 0) against d = (1, 0, 0, 2, -1, 1): s = (1 + 2) / 7; residuals by hand
    shift = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    s, r2 = slope_r2(d, shift)
    assert s == pytest.approx(3 / 7)
    y, x = shift.reshape(-1), d.reshape(-1)
    res = ((y - 3 / 7 * x) ** 2).sum()
    assert r2 == pytest.approx(1 - float(res) / float(((y - y.mean()) ** 2).sum()))
    assert all(math.isnan(v) for v in slope_r2(torch.zeros(2, 2), torch.ones(2, 2)))


def test_percentile_bootstrap():
    assert percentile_interval(torch.arange(101.0)) == pytest.approx((2.5, 97.5))
    flags = torch.tensor([1.0] * 50 + [0.0] * 50)
    out = bootstrap(mean_of(flags), 100, resamples=400)
    assert out["value"] == 0.5 and out["low"] < 0.5 < out["high"] and out["high"] - out["low"] < 0.3
    const = bootstrap(mean_of(torch.ones(10)), 10, resamples=50)
    assert const == {"value": 1.0, "low": 1.0, "high": 1.0}


def det(cls: int, x_px: float, y_px: float) -> Detection:
    return Detection(cls, x_px / 32, y_px / 32, 1.0)


def test_score_edit_follows_stays_and_loses():
    kw = dict(canvas=32, radius_px=3.2, class_aware=True, items=2)
    before = [det(3, 10, 10), det(5, 25, 25)]
    # followed: the object left its place (no pair) and the free detection is where the blob went
    r = score_edit(before, [det(3, 19, 11), det(5, 25, 25)], blob_px=(10.5, 10), move_px=(8, 0), cls=3, **kw)
    assert r.shift == pytest.approx((9, 1)) and r.error == pytest.approx(math.hypot(0.5, 1))
    assert (r.class_kept, r.class_right, r.count_kept, r.count_right, r.found) == (1, 1, 1, 1, 1)
    # ignored the layout: the object stayed, so its displacement is 0 (not the blob's move)
    r = score_edit(before, before, blob_px=(10, 10), move_px=(8, 0), cls=3, **kw)
    assert r.shift == (0, 0) and r.error == pytest.approx(8)
    # lost and the other object renamed: no free detection after, counts drop
    r = score_edit(before, [det(6, 25, 25)], blob_px=(10, 10), move_px=(8, 0), cls=3, **kw)
    assert r.found == 0 and math.isnan(r.error) and r.count_kept == 0 and r.count_right == 0
    # nothing near the blob before: not found
    r = score_edit([det(5, 25, 25)], [det(5, 25, 25)], blob_px=(10, 10), move_px=(8, 0), cls=3, **kw)
    assert r.found == 0
    # class changed on the way; heatmap generators (no classes) leave class_right NaN
    r = score_edit(before, [det(1, 18, 10), det(5, 25, 25)], blob_px=(10, 10), move_px=(8, 0), cls=3,
                   **{**kw, "class_aware": False})
    assert r.class_kept == 0 and math.isnan(r.class_right) and r.found == 1


def test_draw_moves_stay_inside_and_count_shortened():
    lays = [Layout((LayoutItem(0, 0.5, 0.5, 0.2),)), Layout((LayoutItem(1, 0.15, 0.5, 0.3),))] * 200
    pick, moves, short = draw_moves(lays, max_move=1 / 3, generator=torch.Generator().manual_seed(0))
    assert (pick == 0).all() and (moves.norm(dim=1) <= 1 / 3 + 1e-9).all()
    centre = torch.tensor([[it.x, it.y] for lay in lays for it in lay.items], dtype=torch.float64) + moves
    half = torch.tensor([it.size / 2 for lay in lays for it in lay.items], dtype=torch.float64)[:, None]
    assert ((centre >= half - 1e-9) & (centre <= 1 - half + 1e-9)).all()
    assert not short[0::2].any() and short[1::2].sum() > 50  # the item at the left edge has no room to its left


def config(n: int = 24) -> EditingConfig:
    return EditingConfig(n=n, batch=10, resamples=100, fid_resamples=20)


def test_follow_generator_gives_slope_one():
    gen = SpriteGenerator()
    assert isinstance(gen, SpatialGenerator)
    out = measure_editing(gen, sprite_finder, layouts(), config=config(), extractor=PooledPixels())
    assert out["slope"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert out["r2"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert out["median_error_px"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert out["class_right"]["value"] == 1.0 and out["count_kept"]["value"] == 1.0
    assert out["object_found"]["value"] == 1.0 and out["extractor"] == "pooled-pixels"
    assert out["fid_edited_vs_unedited"]["value"] >= 0 and out["fid_samples"] == 24


def test_ignoring_generator_gives_slope_zero():
    out = measure_editing(SpriteGenerator(follow=False), sprite_finder, layouts(), config=config(), extractor=None)
    assert abs(out["slope"]["value"]) < 1e-6 and out["median_error_px"]["value"] > 1.0
    assert math.isnan(out["r2"]["value"])  # the object never moves: no variance for R^2 to explain
    assert "fid_edited_vs_unedited" not in out and out["extractor"] is None


def test_same_seed_same_result_and_bad_input():
    a = measure_editing(SpriteGenerator(), sprite_finder, layouts(), config=config(12))
    b = measure_editing(SpriteGenerator(), sprite_finder, layouts(), config=config(12))
    assert a == b
    with pytest.raises(GenlensError):
        measure_editing(SpriteGenerator(), sprite_finder, [], config=config())
    with pytest.raises(GenlensError):
        EditingConfig(max_move=0)
