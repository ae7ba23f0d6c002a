"""experiments/gan_cam_location.py: the per-image CAM correlations it reports."""
from __future__ import annotations

import pytest
import torch

from genlens.gan import Discriminator, GanConfig, Generator


@pytest.fixture(scope="module")
def bench(script):
    return script("experiments/gan_cam_location")


def test_image_corr_golden(bench):
    a = torch.rand(3, 8, 8)
    assert bench.image_corr(a, a) == pytest.approx(1.0)
    assert bench.image_corr(a, 2 - 3 * a) == pytest.approx(-1.0)
    flat = torch.ones(3, 8, 8)
    assert bench.image_corr(a, flat) == 0.0  # a flat map has no direction: counted as 0, not NaN
    half = torch.stack([a[0], -a[1]])
    assert bench.image_corr(half, a[:2]) == pytest.approx(0.0, abs=1e-9)  # mean over images: +1 and -1


def test_cam_location_reports_both_cams_per_level(bench):
    torch.manual_seed(0)
    cfg = GanConfig.tiny("eqgan-sa")
    G, D = Generator(cfg).eval(), Discriminator(cfg).eval()
    real = torch.rand(6, 1, 32, 32) * 2 - 1
    out = bench.cam_location(G, D, real, n=6, seed=1)
    assert set(out) == {"g-loss", "real"} and set(out["real"]) == {"1", "2", "3"}
    values = [v for cam in out.values() for lv in cam.values() for v in lv.values()]
    assert len(values) == 18 and all(-1.0 <= v <= 1.0 for v in values)
    assert out["g-loss"]["1"] != out["real"]["1"]  # the two CAMs are different maps
