"""bench/inversion_evaluator.py reads back exactly the images bench/inversion.py saved in its grids."""
from __future__ import annotations

import pytest
import torch

from genlens.utils.images import save_grid


def test_read_grid_inverts_save_grid(bench_script, tmp_path) -> None:
    bench = bench_script("inversion_evaluator")
    images = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "pii_fmnist-cnn.png"
    save_grid(images, path, nrow=10, upscale=2)  # as bench/inversion.py writes them
    back = bench.read_grid(path, classes=10, cell=28, padding=2, upscale=2)
    assert back.shape == images.shape and (back - images).abs().max() <= 0.5 / 255 + 1e-6


def test_grid_names_follow_the_inversion_bench(bench_script, tmp_path) -> None:
    bench = bench_script("inversion_evaluator")
    assert bench.grid_path(tmp_path, "pii", "fmnist-vit", 0).name == "pii_fmnist-vit.png"
    assert bench.grid_path(tmp_path, "pii", "fmnist-vit", 2).name == "pii_fmnist-vit_seed2.png"


def test_a_grid_of_another_shape_is_refused(bench_script, tmp_path) -> None:
    bench = bench_script("inversion_evaluator")
    path = tmp_path / "g.png"
    save_grid(torch.rand(8, 1, 28, 28), path, nrow=8, upscale=2)
    with pytest.raises(SystemExit, match="expected"):
        bench.read_grid(path, classes=10, cell=28, padding=2, upscale=2)
