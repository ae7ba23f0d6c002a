"""Sample quality on fashion-scenes (issue 27, "Targets"): the FID of N generated samples against N real TEST scenes,
per evaluation seed, and the ratio layout-model FID / unconditional-baseline FID against the target 1.5.

Per evaluation seed s the same N real test scenes (a permutation drawn from s) are the reference of every generator;
a layout model draws sample i on real scene i's layout, an unconditional (or heatmap) GAN draws freely
(:func:`genlens.metrics.spatial_generators.sample_images`). The extractor is the locator's backbone, trained only on
real scenes' ground truth and never used to tune a generator.

The ratio's interval, the one the verdict uses: over evaluation seeds, the per-seed ratios FID_model(s) / FID_base(s)
with the Student-t interval of their mean (:func:`genlens.metrics.intervals.seed_interval`, 3 seeds, t_{0.975,2}).
Verdict by the project's rule (:func:`genlens.metrics.intervals.verdict`, lower is better): "met" when the whole
interval is below 1.5, "at the bar" when it contains 1.5, "missed" above.

Reported beside it, for information only: a paired, stratified percentile bootstrap over samples (Efron & Tibshirani
1993, ch. 13; each draw resamples, within every seed, one index vector for the real scenes and both generators'
samples, and takes the ratio of mean-over-seeds FIDs). It is not the verdict's interval because a resample's
duplicates bias FID upward, the small FID of a good model most, so the bootstrap interval can sit beside the
estimate rather than around it (seen at small N).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from genlens.data.layout import scene_layouts
from genlens.metrics.fid import FeatureStats, fid_from_stats
from genlens.metrics.intervals import Interval, Verdict, seed_interval, verdict
from genlens.metrics.spatial_generators import sample_images

TARGET_RATIO = 1.5  # layout-model FID no worse than 1.5x the unconditional baseline's (issue 27)


def real_indices(n_scenes: int, *, n: int, seed: int) -> torch.Tensor:
    """The N real test scenes of evaluation seed ``seed`` (a fresh permutation; all of them when fewer)."""
    return torch.randperm(n_scenes, generator=torch.Generator().manual_seed(int(seed)))[:n]


def seed_features(generators: Sequence[Any], test: Any, extractor: Any, *, n: int, seed: int
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(real features (n, D), {generator name: its samples' features (n, D)}) for one evaluation seed."""
    idx = real_indices(len(test), n=n, seed=seed)
    layouts = scene_layouts(test, idx)
    real = extractor.features(test.images[idx].float() / 255.0).double()  # uint8 scenes -> [0, 1]
    fake = {g.name: extractor.features(sample_images(g, len(idx), layouts=layouts, seed=seed)).double()
            for g in generators}
    return real, fake


def _fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    return fid_from_stats(FeatureStats.from_features(real), FeatureStats.from_features(fake))


def ratio_interval(real: Sequence[torch.Tensor], model: Sequence[torch.Tensor], base: Sequence[torch.Tensor], *,
                   resamples: int, seed: int = 0, level: float = 0.95) -> Interval:
    """The ratio of mean-over-seeds FIDs (model / base) with its paired, stratified bootstrap interval (module
    docstring); one (N_s, D) feature tensor per evaluation seed in each list, row i of each paired."""
    g = torch.Generator().manual_seed(int(seed))

    def ratio(draw: Sequence[torch.Tensor]) -> float:
        num = sum(_fid(r[i], m[i]) for r, m, i in zip(real, model, draw))
        den = sum(_fid(r[i], b[i]) for r, b, i in zip(real, base, draw))
        return num / den if den > 0 else math.nan

    estimate = ratio([torch.arange(len(r)) for r in real])
    draws = torch.tensor([ratio([torch.randint(0, len(r), (len(r),), generator=g) for r in real])
                          for _ in range(resamples)], dtype=torch.float64)
    draws = draws[~draws.isnan()]
    alpha = (1 - level) / 2
    if draws.numel() == 0:
        low = high = math.nan
    else:
        low, high = torch.quantile(draws, torch.tensor([alpha, 1 - alpha], dtype=torch.float64)).tolist()
    return Interval(estimate=estimate, low=low, high=high, level=level, method="bootstrap-percentile", n=len(real))


def ratio_verdict(interval: Interval, target: float = TARGET_RATIO) -> Verdict | None:
    """met / at the bar / missed for a FID ratio (lower is better); None when the interval is undefined."""
    if not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return None
    return verdict(interval, target, higher_is_better=False)


def sample_quality(generators: Sequence[Any], test: Any, extractor: Any, *, seeds: Sequence[int], n: int,
                   baseline: str | None, resamples: int) -> dict[str, Any]:
    """Every generator's FID against real test scenes per evaluation seed and, for each layout model (one that
    has no ``sample_free``) when ``baseline`` names one of ``generators``, the FID ratio to it with its verdict."""
    real: list[torch.Tensor] = []
    feats: dict[str, list[torch.Tensor]] = {g.name: [] for g in generators}
    for s in seeds:
        r, f = seed_features(generators, test, extractor, n=n, seed=s)
        real.append(r)
        for name, x in f.items():
            feats[name].append(x)
    fids = {name: {str(s): _fid(r, x) for s, r, x in zip(seeds, real, xs)} for name, xs in feats.items()}
    out: dict[str, Any] = {
        "extractor": getattr(extractor, "name", type(extractor).__name__),
        "n": int(real[0].shape[0]), "seeds": list(seeds), "baseline": baseline, "target_ratio": TARGET_RATIO,
        "sampling": "layout models on the layouts of the same N real test scenes; unconditional and heatmap GANs "
                    "freely (heatmaps as trained)",
        "interval": "95 % Student-t interval of the mean of the per-seed ratios (t over seeds); 'bootstrap': paired, "
                    f"stratified percentile bootstrap over samples, {resamples} draws, for information (biased up)",
        "fid": {name: {"per_seed": v, "mean": sum(v.values()) / len(v)} for name, v in fids.items()},
        "ratios": {},
    }
    if baseline is None or baseline not in feats:
        return out
    layout_models = [g.name for g in generators if g.name != baseline and getattr(g, "sample_free", None) is None]
    for name in layout_models:
        per_seed = {s: fids[name][s] / fids[baseline][s] if fids[baseline][s] > 0 else math.nan for s in fids[name]}
        iv = seed_ratio_interval(list(per_seed.values()))
        boot = ratio_interval(real, feats[name], feats[baseline], resamples=resamples) if resamples else None
        out["ratios"][name] = {**iv.to_dict(), "per_seed": per_seed, "verdict": ratio_verdict(iv),
                               "bootstrap": None if boot is None else boot.to_dict()}
    return out


def seed_ratio_interval(per_seed: Sequence[float]) -> Interval:
    """The t-over-seeds interval of per-seed FID ratios; NaN bounds when a ratio is undefined or seeds are < 3."""
    finite = [r for r in per_seed if math.isfinite(r)]
    if len(finite) < len(per_seed) or len(finite) < 3:
        mean = sum(finite) / len(finite) if finite else math.nan
        return Interval(estimate=mean, low=math.nan, high=math.nan, level=0.95, method="t over seeds", n=len(finite))
    return seed_interval(finite)
