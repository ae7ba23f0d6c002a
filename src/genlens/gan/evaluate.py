"""Evaluating a trained generator: FID/KID, class coverage, the editing scores and render latency.

* **FID / KID** (issue 5, "Evaluation"): ``n`` samples against the Fashion-MNIST test set under a
  pluggable extractor (default ``genlens-fmnist``, the shipped CNN's penultimate layer). The GAN works at
  32x32 with the 28x28 images padded by 2 px of background (-1, see :func:`genlens.gan.data.fmnist_32`); the
  samples are cropped back to 28x28 (no resampling) and mapped to [0, 1] before the extractor sees them.
* **Class coverage**: the zoo CNN labels ``n`` samples; we report per-class fractions, the smallest one,
  and the KL divergence and total-variation distance of that distribution to the uniform one.
* **Editing correlation** (EqGAN-SA, arXiv 2112.00718, sec. 4.4, made quantitative): for many latents the
  level-1 heatmap centre c is moved to c + d (random directions, several magnitudes) with latent, other
  levels and per-pixel noise fixed. Where did the content go? We take the displacement between the centre
  of mass of the brightening (after - before)+ and that of the darkening (before - after)+ (objects are
  bright on black, so content that moves appears at one end and leaves the other) and correlate it with d
  (Pearson over x and y pooled; also the least-squares slope). The literal reading "centre of mass of
  |change| minus c" is reported too (``correlation_abs_com``) but is confounded by c itself: broad
  heatmaps cut by the image border pull that centre towards the middle, so even a generator whose image
  *is* its heatmap (a perfect editor) scores only about 0.25 on it and about 0.93 on the lobe displacement
  (tests/gan/test_gan_evaluate.py).
* **Editing measured by the locator** (issue 27, :func:`locator_editing`): the measurement of
  :mod:`genlens.metrics.editing` for GANs that take layouts or heatmaps: real scenes' layouts edited, objects
  found by the object locator, slope / R^2 / placement error in pixels. It replaces the correlation above
  in ``genlens gan eval``, the tour and ``bench/gan.py``; the correlation stays for experiments/gan_placed.py.
* **Render latency**: median wall time of rendering one image from a fixed latent with a new heatmap on
  the CPU (``inference_mode``, after warm-up), what the browser explorer does on every drag.
"""
from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.gan.edit import NOISE_OFFSET, change_center_of_mass, displacement_correlation, latents
from genlens.gan.networks import Generator
from genlens.gan.render import FixedLatentRenderer
from genlens.gan.spatial import Heatmaps, render_heatmap
from genlens.metrics.api import MetricResult
from genlens.metrics.extractors import FeatureExtractor, extractor_for
from genlens.metrics.fid import FeatureStats, fid_from_stats
from genlens.metrics.inputs import check_images01
from genlens.metrics.kid import kid_from_features
from genlens.metrics.locator import Locator
from genlens.utils.config_io import to_dict

PAD = 2  # fmnist_32 pads 28 -> 32 with 2 px of background on each side
EDIT_MAGNITUDES = (0.2, 0.4, 0.6)
EDIT_LIMIT = 0.9  # moved centres stay inside [-0.9, 0.9] (the generator saw centres up to 0.75 + offsets)


def _device(G: Generator) -> torch.device:
    return G.const.device


def to_fmnist01(images: torch.Tensor) -> torch.Tensor:
    """(N, C, 32, 32) in [-1, 1] -> (N, C, 28, 28) in [0, 1]: remove the 2-px pad, no resampling."""
    if images.ndim != 4 or tuple(images.shape[-2:]) != (32, 32):
        raise GenlensError(f"GAN samples must be (N, C, 32, 32); got {tuple(images.shape)}")
    return ((images[..., PAD:-PAD, PAD:-PAD].float().clamp(-1, 1) + 1) / 2).contiguous()


@torch.no_grad()
def generate(G: Generator, n: int, *, seed: int = 0, batch: int = 256, noise_mode: str = "random") -> torch.Tensor:
    """``n`` samples (n, C, S, S) in [-1, 1] on the CPU, rendered ``batch`` at a time (a class-conditional G:
    classes 0, 1, ..., K-1, 0, ... in turn).

    z and heatmaps come batch by batch from one ``torch.Generator(seed)``, the noise from a second one, so
    the same (seed, batch) gives the same images on every device.
    """
    if n < 1 or batch < 1:
        raise GenlensError(f"n and batch must be at least 1; got n={n}, batch={batch}")
    g = torch.Generator().manual_seed(int(seed))
    noise = torch.Generator().manual_seed(int(seed) + NOISE_OFFSET)
    device, cfg = _device(G), G.config
    out = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        z = torch.randn(m, cfg.z_dim, generator=g)
        heat = G.sample_heatmaps(m, generator=g, device=device) if cfg.use_sel else None
        labels = (torch.arange(i, i + m) % cfg.num_classes).to(device) if cfg.num_classes else None  # balanced
        out.append(G(z.to(device), heat, labels=labels, noise_mode=noise_mode, generator=noise).float().cpu())
    return torch.cat(out)


# ------------------------------------------------------------------------------------------ FID / KID
@dataclass(frozen=True)
class Reference:
    """Real features under one extractor, computed once and reused for every FID/KID of a run."""

    features: torch.Tensor  # (N, D) float32, CPU
    stats: FeatureStats
    extractor: str


def reference(real01: torch.Tensor, *, extractor: str | FeatureExtractor = "genlens-fmnist",
              device: str = "cpu") -> Reference:
    """Features of real [0, 1] images (N, C, 28, 28) (uint8 accepted), e.g. the Fashion-MNIST test split."""
    ext = extractor_for(extractor, device=device)
    feats = ext.features(check_images01(real01, what="real images"))
    return Reference(feats, FeatureStats.from_features(feats, extractor=ext.name), ext.name)


def fid_kid(G: Generator, n: int, test_images: torch.Tensor | Reference, *,
            extractor: str | FeatureExtractor = "genlens-fmnist", seed: int = 0, kid: bool = True,
            kid_subsets: int = 100, kid_subset_size: int = 1000, device: str | None = None,
            batch: int = 256) -> dict[str, MetricResult]:
    """FID (and KID) of ``n`` samples of G against ``test_images`` ([0, 1] 28x28 images or a :class:`Reference`).

    Returns ``{"fid": MetricResult[, "kid": MetricResult]}``; each names its extractor and sample counts.
    """
    if n < 2:
        raise GenlensError(f"FID needs at least 2 samples; got n={n}")
    device = device or str(_device(G))
    ext = extractor_for(extractor, device=device)
    ref = test_images if isinstance(test_images, Reference) else reference(test_images, extractor=ext, device=device)
    if ref.extractor != ext.name:
        raise GenlensError(f"reference features come from '{ref.extractor}' but the extractor is '{ext.name}'; "
                           "compute both with the same extractor")
    fake = ext.features(to_fmnist01(generate(G, n, seed=seed, batch=batch)))
    fake_stats = FeatureStats.from_features(fake, extractor=ext.name)
    out = {"fid": MetricResult(metric="fid", value=fid_from_stats(ref.stats, fake_stats), extractor=ext.name,
                               n_real=ref.stats.n, n_fake=n)}
    if kid:
        mean, std = kid_from_features(ref.features, fake, subsets=kid_subsets, subset_size=kid_subset_size,
                                      generator=torch.Generator().manual_seed(int(seed)))
        out["kid"] = MetricResult(metric="kid", value=mean, std=std, extractor=ext.name, n_real=ref.stats.n,
                                  n_fake=n)
    return out


# ---------------------------------------------------------------------------------------- coverage
@dataclass(frozen=True)
class Coverage:
    n: int
    classifier: str
    counts: dict[str, int]
    fractions: dict[str, float]
    min_fraction: float
    min_class: str
    kl_to_uniform: float  # KL(p || uniform) in nats; 0 = perfectly even
    tv_to_uniform: float  # 0.5 * sum |p - 1/K|; 0 = perfectly even

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def coverage_from_predictions(pred: torch.Tensor, class_names: list[str], *, classifier: str = "") -> Coverage:
    """Class distribution of predicted labels (N,) against the uniform distribution over ``class_names``."""
    k = len(class_names)
    if pred.ndim != 1 or pred.numel() == 0:
        raise GenlensError(f"predictions must be a non-empty (N,) label tensor; got {tuple(pred.shape)}")
    counts = torch.bincount(pred.long().cpu(), minlength=k)[:k]
    p = counts.double() / pred.numel()
    nz = p > 0
    kl = float((p[nz] * (p[nz] * k).log()).sum())
    tv = float(0.5 * (p - 1.0 / k).abs().sum())
    i = int(p.argmin())
    return Coverage(n=int(pred.numel()), classifier=classifier, counts=dict(zip(class_names, counts.tolist())),
                    fractions=dict(zip(class_names, p.tolist())), min_fraction=float(p[i]), min_class=class_names[i],
                    kl_to_uniform=kl, tv_to_uniform=tv)


def class_coverage(G: Generator, n: int = 2000, *, classifier: Any = "fmnist-cnn", seed: int = 0,
                   device: str | None = None, batch: int = 256) -> Coverage:
    """Zoo-CNN labels of ``n`` samples -> :class:`Coverage` (``classifier``: a zoo name, folder or handle)."""
    from genlens.models.handle import ModelHandle

    device = device or str(_device(G))
    if isinstance(classifier, ModelHandle):
        handle = classifier
    else:
        import genlens

        handle = genlens.load_model(classifier, device=device)
    images = to_fmnist01(generate(G, n, seed=seed, batch=batch))
    pred = handle.predict(images).argmax(dim=1)
    return coverage_from_predictions(pred, list(handle.class_names), classifier=handle.name)


# ----------------------------------------------------------------------------------------- editing
def take(heat: Heatmaps, index: torch.Tensor) -> Heatmaps:
    """Rows ``index`` of every level (maps, centres, sigmas)."""
    return Heatmaps({k: v[index] for k, v in heat.maps.items()}, {k: v[index] for k, v in heat.centers.items()},
                    {k: v[index] for k, v in heat.sigmas.items()})


def with_level1(heat: Heatmaps, centers: torch.Tensor, *, size: int) -> Heatmaps:
    """``heat`` with the level-1 centre of each row set to ``centers`` (B, 2); other levels kept."""
    c = centers.reshape(-1, 1, 2).to(heat.centers[1])
    maps, cs = dict(heat.maps), dict(heat.centers)
    cs[1] = c
    maps[1] = render_heatmap(c, heat.sigmas[1], size)
    return Heatmaps(maps, cs, dict(heat.sigmas))


def _require_heatmaps(G: Generator) -> None:
    if not G.config.use_sel:
        raise GenlensError(f"a '{G.config.arch}' generator has no heatmap input, so it has no editing score; "
                           "use an eqgan-sa or sel-only model")


@torch.no_grad()
def editing_correlation(G: Generator, *, latents_n: int = 64, magnitudes: tuple[float, ...] = EDIT_MAGNITUDES,
                        directions: int = 4, seed: int = 0, batch: int = 256) -> dict[str, Any]:
    """Move the level-1 centre of ``latents_n`` latents by d (``directions`` random angles per magnitude)
    and correlate d with the displacement of the content (see the module docstring).

    Returns ``correlation`` (Pearson of d and the content displacement, x and y pooled), ``slope``, per-axis
    and per-magnitude correlations, the literal |change|-centre variant ``correlation_abs_com``, ``mean_abs_change`` (mean |change| per pixel in [-1, 1] units: near 0 means the heatmap does nothing)
    and ``n`` (pairs). Targets are clamped to [-0.9, 0.9] and d is measured after clamping.
    """
    _require_heatmaps(G)
    if latents_n < 1 or directions < 1 or not magnitudes:
        raise GenlensError("editing_correlation needs latents_n >= 1, directions >= 1 and some magnitudes")
    device, size = _device(G), G.config.resolution
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(latents_n, G.config.z_dim, generator=g)
    heat = G.sample_heatmaps(latents_n, generator=g, device="cpu")
    mags = torch.tensor(magnitudes, dtype=torch.float32).repeat_interleave(directions)  # (K,)
    k = mags.numel()
    angles = torch.rand(latents_n, k, generator=g) * 2 * math.pi
    c0 = heat.centers[1][:, 0]  # (L, 2)
    d = mags[None, :, None] * torch.stack([angles.cos(), angles.sin()], dim=-1)  # (L, K, 2)
    target = (c0[:, None] + d).clamp(-EDIT_LIMIT, EDIT_LIMIT)
    shift = (target - c0[:, None]).reshape(-1, 2)  # (L*K, 2)
    row = torch.arange(latents_n).repeat_interleave(k)  # latent of each edited row

    def render(zz: torch.Tensor, hh: Heatmaps) -> torch.Tensor:
        return G(zz.to(device), hh.to(device), noise_mode="const").float().cpu()

    before = torch.cat([render(z[i:i + batch], take(heat, torch.arange(i, min(i + batch, latents_n))))
                        for i in range(0, latents_n, batch)])
    moves, abs_moves, change = [], [], []
    for i in range(0, row.numel(), batch):
        idx = row[i:i + batch]
        h = with_level1(take(heat, idx), target.reshape(-1, 2)[i:i + batch], size=size)
        after = render(z[idx], h)
        moves.append(content_displacement(before[idx], after))
        abs_moves.append(change_center_of_mass(before[idx], after) - c0[idx])
        change.append((after - before[idx]).abs().mean(dim=(1, 2, 3)))
    m, m_abs = torch.cat(moves), torch.cat(abs_moves)
    which = torch.arange(len(magnitudes)).repeat_interleave(directions).repeat(latents_n)  # magnitude per row
    per_mag = {f"{mag:g}": displacement_correlation(shift[which == j], m[which == j]) for j, mag in enumerate(magnitudes)}
    return {"correlation": displacement_correlation(shift, m), "slope": _slope(shift, m),
            "correlation_x": displacement_correlation(shift[:, 0], m[:, 0]),
            "correlation_y": displacement_correlation(shift[:, 1], m[:, 1]),
            "correlation_abs_com": displacement_correlation(shift, m_abs), "slope_abs_com": _slope(shift, m_abs),
            "per_magnitude": per_mag, "mean_abs_change": float(torch.cat(change).mean()),
            "n": int(row.numel()), "latents": latents_n, "magnitudes": list(magnitudes), "directions": directions}


def _slope(shift: torch.Tensor, move: torch.Tensor) -> float:
    """Least-squares gain of ``move`` on ``shift`` through the origin (both (N, 2))."""
    return float((shift * move).sum() / (shift * shift).sum().clamp_min(1e-12))


def content_displacement(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) pair -> (B, 2): centre of mass of the brightening minus that of the darkening, (x, y) in
    [-1, 1] units; a bright blob translated by d gives about d (more for small moves of broad blobs)."""
    zero = torch.zeros_like(before)
    return (change_center_of_mass(zero, (after - before).clamp_min(0))
            - change_center_of_mass(zero, (before - after).clamp_min(0)))


# --------------------------------------------------------------------- editing, measured by the locator
def editing_reason(G: Generator, locator: Locator | None) -> str | None:
    """Why the locator's editing measurement does not apply to ``G`` (one line), or None when it does."""
    arch = G.config.arch
    if not (G.config.use_layout or G.config.use_sel):
        return f"a '{arch}' generator takes neither layouts nor heatmaps, so it has no editing score"
    if locator is None:
        return "no locator given (the shipped one is scenes-locator)"
    cfg = locator.config
    if (G.config.resolution, G.config.img_channels) != (cfg.canvas, cfg.channels):
        return (f"the locator was trained on {cfg.canvas}-px {cfg.channels}-channel scenes but this '{arch}' makes "
                f"{G.config.resolution}-px {G.config.img_channels}-channel images; pass a locator trained on such "
                "scenes (genlens locator train --data ...)")
    return None


def locator_editing(G: Generator, locator: Locator, scenes: Any, *, name: str, n: int = 500, seed: int = 0,
                    threshold: float = 0.3, resamples: int = 1000, fid_resamples: int | None = 200,
                    callback: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Issue 27's editing measurement (:func:`genlens.metrics.editing.measure_editing`, docs/spatial.md) of a
    layout or SEL GAN: ``n`` edits of real test scenes' layouts (``scenes``; one-item scenes for SEL GANs, whose
    heatmaps carry no class), objects found by ``locator`` at ``threshold``; slope, R^2, placement error, class
    and count kept, with 95 % bootstrap intervals, and the FID of edited against unedited samples under the
    locator's backbone (``fid_resamples=None``: no FID)."""
    from genlens.gan.spatial_adapter import as_spatial_generator
    from genlens.metrics.editing import EditingConfig, editing_layouts, measure_editing
    from genlens.metrics.spatial_generators import LocatorFeatures

    reason = editing_reason(G, locator)
    gen = as_spatial_generator(G, name)
    if reason is not None or gen is None:
        raise GenlensError(f"{name}: {reason}")
    config = EditingConfig(n=n, seed=seed, threshold=threshold, resamples=resamples, batch=min(250, n),
                           fid_resamples=fid_resamples or 0)
    layouts = editing_layouts(scenes, n=n, class_aware=gen.class_aware, seed=seed)
    extractor = None if fid_resamples is None else LocatorFeatures(locator)
    return measure_editing(gen, locator, layouts, config=config, extractor=extractor, callback=callback)


# ---------------------------------------------------------------------------------------- latency
def render_ms(G: Generator, *, threads: int = 2, repeats: int = 50, warmup: int = 10, seed: int = 0) -> dict[str, Any]:
    """Median wall time (ms) to render one 32x32 image on the CPU from a fixed latent with a new level-1
    heatmap each call (heatmap rendering included), the explorer's drag loop: w and everything derived from
    it (styles, demodulated weights, noise) are baked once by :class:`~genlens.gan.render.FixedLatentRenderer`;
    ``threads`` intra-op threads, ``inference_mode``."""
    if repeats < 1 or warmup < 0 or threads < 1:
        raise GenlensError("render_ms needs repeats >= 1, warmup >= 0 and threads >= 1")
    Gc = copy.deepcopy(G).cpu().eval() if _device(G).type != "cpu" else G.eval()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            z, heat = latents(Gc, 1, seed)
            w = Gc.mapping(z)
            renderer = FixedLatentRenderer(Gc, w, noise_mode="const")
            g = torch.Generator().manual_seed(int(seed) + 1)
            centres = (torch.rand(warmup + repeats, 2, generator=g) * 1.6 - 0.8)
            times = []
            for i in range(warmup + repeats):
                t0 = time.perf_counter()
                h = with_level1(heat, centres[i:i + 1], size=Gc.config.resolution) if heat is not None else None
                renderer(h)
                if i >= warmup:
                    times.append(1000 * (time.perf_counter() - t0))
    finally:
        torch.set_num_threads(before)
    times_sorted = sorted(times)
    return {"median_ms": statistics.median(times), "p90_ms": times_sorted[min(len(times) - 1, int(0.9 * len(times)))],
            "min_ms": times_sorted[0], "threads": threads, "repeats": repeats, "arch": Gc.config.arch,
            "params": sum(p.numel() for p in Gc.parameters())}


# ------------------------------------------------------------------------------------------ all of it
def evaluate_generator(G: Generator, *, n: int, test_images: torch.Tensor, features: str = "genlens-fmnist",
                       locator: Locator | None = None, scenes: Any = None, edits: int = 500, threshold: float = 0.3,
                       name: str | None = None, run_dir: str | None = None, held_out: torch.Tensor | None = None,
                       di_n: int = 1024, render_threads: int = 2, seed: int = 0,
                       callback: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """What ``genlens gan eval`` reports: FID/KID of ``n`` samples against ``test_images`` ([0, 1] 28x28),
    class coverage, the locator's editing measurement (:func:`locator_editing`, ``edits`` edits of ``scenes``'
    layouts, for GANs that take heatmaps, when ``locator`` and ``scenes`` are given), the disequilibrium
    indicator of the run in ``run_dir`` on ``held_out`` (N, C, 32, 32) reals, and the CPU render time.
    ``callback({"step": i})`` after each of the five parts; seeds ``seed``, ``seed + 1``, ``seed + 2`` for FID,
    coverage and editing."""
    from genlens.gan.di import di_from_checkpoint

    if run_dir is not None and held_out is None:
        raise GenlensError("DI from a run dir needs held-out real images; pass held_out")
    report = callback or (lambda record: None)
    dev = str(_device(G))
    scores = fid_kid(G, n, test_images, extractor=features, seed=seed, device=dev, kid_subset_size=min(1000, n))
    report({"step": 1})
    coverage = class_coverage(G, n, seed=seed + 1, device=dev)
    report({"step": 2})
    note = editing_reason(G, None if scenes is None else locator)
    editing = (None if note is not None else
               locator_editing(G, locator, scenes, name=name or G.config.arch, n=edits, seed=seed + 2,
                               threshold=threshold))
    report({"step": 3})
    di = (di_from_checkpoint(run_dir, held_out, n=di_n, seed=seed, device=dev) if run_dir is not None else None)
    report({"step": 4})
    render = render_ms(G, threads=render_threads)
    report({"step": 5})
    result = {"arch": G.config.arch, "n": n, "fid": scores["fid"].to_dict(), "kid": scores["kid"].to_dict(),
              "coverage": coverage.to_dict(), "locator_editing": editing, "di": di, "render_ms": render}
    if note is not None:
        result["editing_note"] = note
    return result
