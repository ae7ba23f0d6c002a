"""Improved precision/recall: golden values on hand-made points, a brute-force oracle, the API and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genlens.errors import GenlensError
from genlens.metrics import HandleExtractor, compute_precision_recall, precision_recall
from genlens.metrics.precision_recall import inside_manifold, knn_radii, precision_recall_flags


def col(*v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)[:, None]  # (N, 1) features


def test_golden_1d_k1() -> None:
    # reals 0, 1, 2, 4 -> radii 1, 1, 1, 2: balls cover [-1, 6]
    real, fake = col(0, 1, 2, 4), col(0.5, 5, 7, 20)
    assert knn_radii(real, k=1).tolist() == [1, 1, 1, 2]
    # fake radii 4.5, 2, 2, 13: balls [-4, 5], [3, 7], [5, 9], [7, 33] hold every real
    assert knn_radii(fake, k=1).tolist() == [4.5, 2, 2, 13]
    pr = precision_recall(real, fake, k=1)
    assert (pr.precision, pr.recall, pr.n_real, pr.n_fake, pr.k) == (0.5, 1.0, 4, 4, 1)


def test_ball_boundary_counts_as_inside() -> None:
    # the paper's f uses <=: a fake exactly one radius away from a real is inside
    assert inside_manifold(col(2.0, 2.5), col(0, 1), torch.tensor([1.0, 1.0])).tolist() == [True, False]


def test_golden_square_k3() -> None:
    real = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.float64)
    fake = torch.tensor([[0.5, 0.5], [3, 3], [3, 4], [4, 3]], dtype=torch.float64)
    # each corner's third neighbour is the opposite corner: radius sqrt(2)
    assert knn_radii(real, k=3) == pytest.approx(torch.full((4,), 2**0.5, dtype=torch.float64))
    pr = precision_recall(real, fake)  # k = 3 by default
    assert (pr.precision, pr.recall) == (0.25, 1.0)


def test_identical_sets_are_perfect() -> None:
    x = torch.randn(30, 4, generator=torch.Generator().manual_seed(0))
    pr = precision_recall(x, x.clone())
    assert (pr.precision, pr.recall) == (1.0, 1.0)


def _brute_force(real: torch.Tensor, fake: torch.Tensor, k: int) -> tuple[float, float]:
    def radii(x: torch.Tensor) -> torch.Tensor:
        d = (x[:, None, :] - x[None, :, :]).norm(dim=-1)  # (N, N), exact differences
        return d.sort(dim=1).values[:, k]  # column 0 is the point itself

    def frac_inside(q: torch.Tensor, s: torch.Tensor) -> float:
        r = radii(s)
        return sum(bool(((s - qi).norm(dim=1) <= r).any()) for qi in q) / len(q)

    return frac_inside(fake, real), frac_inside(real, fake)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_chunked_matches_brute_force(k: int) -> None:
    g = torch.Generator().manual_seed(k)
    real = torch.randn(57, 6, generator=g, dtype=torch.float64)
    fake = torch.randn(43, 6, generator=g, dtype=torch.float64) + 1.0
    pr = precision_recall(real, fake, k=k, batch_size=7)  # chunks that do not divide either set
    assert (pr.precision, pr.recall) == pytest.approx(_brute_force(real, fake, k), abs=1e-12)
    assert 0 < pr.precision < 1 and 0 < pr.recall < 1
    whole = precision_recall(real, fake, k=k, batch_size=10_000)
    assert (whole.precision, whole.recall) == (pr.precision, pr.recall)


def test_flags_are_per_sample_and_average_to_the_scores() -> None:
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(20, 3, generator=g), torch.randn(15, 3, generator=g) + 1
    fake_in, real_in = precision_recall_flags(real, fake)
    assert fake_in.shape == (15,) and real_in.shape == (20,) and fake_in.dtype == torch.bool
    pr = precision_recall(real, fake)
    assert (pr.precision, pr.recall) == (fake_in.double().mean().item(), real_in.double().mean().item())


@pytest.mark.parametrize(
    ("real", "fake", "kw", "match"),
    [
        (torch.zeros(3, 2), torch.zeros(9, 2), {}, "real features has 3 samples; at least 4"),
        (torch.zeros(9, 2), torch.zeros(9, 3), {}, "feature sizes differ"),
        (torch.zeros(9, 2), torch.zeros(9, 2), {"k": 0}, "k must be >= 1"),
        (torch.zeros(9, 2), torch.zeros(9, 2), {"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_input_is_one_line(real, fake, kw, match) -> None:
    with pytest.raises(GenlensError, match=match):
        precision_recall(real, fake, **kw)


def test_api_uses_the_extractor(tiny_handle) -> None:
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(40, 1, 28, 28, generator=g), torch.rand(30, 1, 28, 28, generator=g) * 0.5
    ext = HandleExtractor(tiny_handle)
    got = compute_precision_recall(real, fake, extractor=tiny_handle)
    want = precision_recall(ext.features(real), ext.features(fake), extractor="tiny")
    assert got == want and got.extractor == "tiny" and (got.n_real, got.n_fake) == (40, 30)


def test_cli_pr_prints_one_json_object(cli, tmp_path, monkeypatch, tiny_handle) -> None:
    import genlens.metrics.api as api

    monkeypatch.setattr(api, "extractor_for", lambda spec, device: HandleExtractor(tiny_handle))
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", images=rng.integers(0, 256, size=(16, 28, 28), dtype=np.uint8),
                 labels=np.arange(16) % 10)
    code, out, err = cli(["metrics", "pr", f"npz:{tmp_path / 'a.npz'}", f"npz:{tmp_path / 'b.npz'}", "--k", "2",
                          "--json", "--device", "cpu"])
    assert code == 0, err
    result = json.loads(out)
    assert result["metric"] == "pr" and result["k"] == 2 and result["n_real"] == result["n_fake"] == 16
    assert 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1 and result["extractor"] == "tiny"
