"""The statistics of the editing measurement (:mod:`genlens.metrics.editing`): the slope of an object's
displacement against the blob's, its R^2, and percentile-bootstrap intervals over edits.

Slope (least squares through the origin; a zero move should give a zero displacement, and the random
directions make the mean move ~0): with the x and y components of every edit pooled as points (d_i, D_i),

    s = sum_i d_i D_i / sum_i d_i^2,         R^2 = 1 - sum_i (D_i - s d_i)^2 / sum_i (D_i - mean(D))^2

(R^2 with the usual centred total sum of squares, so an object that does not move gives R^2 ~ 0, not the
inflated uncentred value; NaN when the displacements do not vary at all). s = 1 and R^2 = 1: the object follows the blob exactly.

Percentile bootstrap (Efron & Tibshirani 1993, ch. 13): resample the edits with replacement B times,
recompute the statistic, and take the 2.5 and 97.5 percentiles as the 95 % interval.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch


def slope_r2(moves: torch.Tensor, shifts: torch.Tensor) -> tuple[float, float]:
    """Blob moves d (N, 2) and object displacements D (N, 2) -> (slope through the origin, R^2)."""
    d = moves.reshape(-1).double()
    y = shifts.reshape(-1).double()
    sdd = float((d * d).sum())
    if d.numel() == 0 or sdd == 0.0:
        return math.nan, math.nan
    s = float((d * y).sum()) / sdd
    tot = float((y - y.mean()).square().sum())
    res = float((y - s * d).square().sum())
    return s, (1.0 - res / tot) if tot > 0 else math.nan  # no displacement variance: nothing to explain


def percentile_interval(values: torch.Tensor, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap values (NaNs dropped)."""
    v = values.double()
    v = v[~v.isnan()]
    if v.numel() == 0:
        return math.nan, math.nan
    lo = (1 - level) / 2
    q = torch.quantile(v, torch.tensor([lo, 1 - lo], dtype=torch.float64))
    return float(q[0]), float(q[1])


def bootstrap(stat: Callable[[torch.Tensor], float], n: int, *, resamples: int = 1000, level: float = 0.95,
              generator: torch.Generator | None = None) -> dict[str, float]:
    """``{"value", "low", "high"}``: ``stat`` of the index set 0..n-1 and its percentile-bootstrap interval
    (``stat`` takes a LongTensor of edit indices, repeats allowed)."""
    if n == 0:
        return {"value": math.nan, "low": math.nan, "high": math.nan}
    generator = generator or torch.Generator().manual_seed(0)
    value = stat(torch.arange(n))
    draws = torch.tensor([stat(torch.randint(0, n, (n,), generator=generator)) for _ in range(resamples)],
                         dtype=torch.float64)
    lo, hi = percentile_interval(draws, level)
    return {"value": value, "low": lo, "high": hi}


def mean_of(flags: torch.Tensor) -> Callable[[torch.Tensor], float]:
    """A statistic for :func:`bootstrap`: the mean of ``flags`` (N,) over the chosen edits, NaNs ignored."""
    def stat(idx: torch.Tensor) -> float:
        v = flags[idx].double()
        v = v[~v.isnan()]
        return float(v.mean()) if v.numel() else math.nan

    return stat


def median_of(values: torch.Tensor) -> Callable[[torch.Tensor], float]:
    """A statistic for :func:`bootstrap`: the median of ``values`` (N,) over the chosen edits, NaNs ignored."""
    def stat(idx: torch.Tensor) -> float:
        v = values[idx].double()
        v = v[~v.isnan()]
        return float(v.quantile(0.5)) if v.numel() else math.nan

    return stat
