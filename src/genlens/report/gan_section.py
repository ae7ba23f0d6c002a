"""The tour's GAN section: the three shipped variants side by side, heatmaps, editing, interpolation, curves.

Everything is computed here from the shipped generator folders (``genlens.gan.io.shipped_gan_folder``) and,
when the tour is given a results folder, its ``gan.json`` (training curves of ``bench/gan.py``). Without trained models the
section says which command makes them and shows only what costs nothing (the heatmap sampler).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlens.report import html as H

BENCH_FILE = "gan.json"  # in the results folder the tour is given (bench/results in a checkout)
# EqGAN-SA alone with the editing slope at every evaluation point (bench/gan.py --archs eqgan-sa ...)
EDIT_CURVE_FILE = "gan_editing_curve.json"
ARCH_TITLES = {"stylegan2": "StyleGAN2-style baseline", "sel-only": "+ SEL only", "eqgan-sa": "EqGAN-SA"}
TRAIN_COMMAND = "bash scripts/train_gan_gpu.sh"
STRIP = 7  # frames of the editing strip
EDIT_KEY = "locator_editing_slope"  # bench/gan.py's key for the locator's editing slope (issue 27)


def gan_folders() -> dict[str, Path]:
    """Arch -> shipped model folder, for the archs whose weights exist."""
    from genlens.gan import io as gan_io
    from genlens.gan.networks import ARCHS
    from genlens.models.weights_io import WEIGHTS_FILE

    return {a: f for a in ARCHS if ((f := gan_io.shipped_gan_folder(a)) / WEIGHTS_FILE).is_file()}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def curves_png(curves: dict[str, Any], key: str, path: str | Path) -> Path:
    """``key`` ("fid", "di" or "locator_editing_slope") vs kimg from ``bench/gan.py`` curves: the mean over seeds
    per arch, thick, and each seed, thin and dashed. Archs without that curve (editing needs heatmaps) are left
    out."""
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for i, (arch, c) in enumerate(curves.items()):
        if f"{key}_mean" not in c:
            continue
        colour = f"C{i}"
        ax.plot(c["kimg"], c[f"{key}_mean"], color=colour, lw=2, label=ARCH_TITLES.get(arch, arch), marker="o", ms=3)
        for seed in c["per_seed"].values():
            ax.plot(seed["kimg"], seed[key], color=colour, lw=0.8, ls="--", alpha=0.6)
    ax.set_xlabel("thousands of real images shown (kimg)")
    ax.set_ylabel({"fid": "FID (genlens-fmnist)", "di": "DI = E[D(real)] - E[D(fake)]",
                   EDIT_KEY: "editing slope (object move / heatmap move)"}.get(key, key))
    if key == EDIT_KEY:
        ax.axhline(1.0, color="0.4", lw=0.8, ls=":", label="slope 1: the object follows")
    if key == "fid":
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _rgb(x01: torch.Tensor) -> torch.Tensor:
    return x01.expand(-1, 3, -1, -1) if x01.shape[1] == 1 else x01


def _to01(x: torch.Tensor) -> torch.Tensor:
    return (x.detach().float().cpu().clamp(-1, 1) + 1) / 2


def _heat01(maps: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) heatmaps -> (B, H, W) scaled to [0, 1] per image."""
    from genlens.attribution.gradcam import normalize_cam

    return normalize_cam(maps[:, 0].float().cpu())


def _save(images: torch.Tensor, ctx, name: str, nrow: int) -> str:
    from genlens.utils.images import save_grid

    save_grid(images, ctx.out / "gan" / name, nrow=nrow, upscale=3)
    return f"gan/{name}"


def _sampler_figure(ctx) -> str:
    """The three heatmap levels for 8 draws (no model needed)."""
    from genlens.attribution.overlay import colorize
    from genlens.gan.spatial import LEVELS, sample_heatmaps

    heat = sample_heatmaps(8, size=32, generator=torch.Generator().manual_seed(ctx.seed))
    rows = [colorize(_heat01(heat.maps[lv])) for lv in LEVELS]
    src = _save(torch.cat(rows), ctx, "heatmap_sampler.png", nrow=8)
    return H.figure(src, "freshly sampled heatmaps fed to G: rows are levels 1 (one centre), 2 (two) and 3 "
                    "(four), columns are draws", width=560)


def _bench_part(ctx) -> str:
    """Curves and the summary table of bench/results/gan.json, if it exists."""
    import json

    bench_result, edit_curve_result = ctx.result_path(BENCH_FILE), ctx.result_path(EDIT_CURVE_FILE)
    if bench_result is None:
        return H.no_results("the GAN training curves of bench/gan.py")
    if not bench_result.is_file():
        return (f"<p>No training curves yet: <code>{TRAIN_COMMAND}</code> writes "
                "<code>bench/results/gan.json</code> with FID and DI every few thousand images.</p>")
    result = json.loads(bench_result.read_text())
    panels = [("fid", "FID vs images seen (mean over seeds; dashed: single seeds)"),
              ("di", "disequilibrium indicator vs images seen")]
    edit_curves = result["curves"]
    if not any(f"{EDIT_KEY}_mean" in c for c in edit_curves.values()) and edit_curve_result.is_file():
        edit_curves = json.loads(edit_curve_result.read_text())["curves"]  # an EqGAN-SA-only run that records it
    figs = [H.figure(str(curves_png(result["curves"], key, ctx.out / "gan" / f"{key}_vs_kimg.png")
                         .relative_to(ctx.out)), cap, width=460) for key, cap in panels]
    if any(f"{EDIT_KEY}_mean" in c for c in edit_curves.values()):
        figs.append(H.figure(str(curves_png(edit_curves, EDIT_KEY, ctx.out / "gan" / "editing_slope_vs_kimg.png")
                                 .relative_to(ctx.out)),
                             "editing slope vs images seen: how far the object the locator finds moves when the "
                             "level-1 heatmap moves (the same runs' curve; dotted: 1, it follows)", width=460))
    rows = []
    for arch, s in result["summary"].items():
        ed = s.get(EDIT_KEY)  # older result files hold only the heatmap correlation: shown as n/a
        rows.append((ARCH_TITLES.get(arch, arch), f"{min(s['kimg']):g}", f"{s['fid']['mean']:.2f}",
                     f"{s['di']['mean']:.3f}", f"{100 * min(s['coverage_min_fraction']['per_seed']):.1f}%",
                     "n/a" if not ed else f"{ed['mean']:.3f}", f"{s['render_ms']['median_ms']:.1f}"))
    targets = "".join(f"<li>{H.esc(k)}: <b>{'met' if t['met'] else 'not met' if t['met'] is False else 'n/a'}</b> "
                      f"({H.esc(t['detail'])})</li>" for k, t in result.get("targets", {}).items())
    seeds = result["config"]["seeds"]
    ctx.numbers.setdefault("gan", {})["bench"] = {"compare_kimg": result["compare_kimg"], "targets": result["targets"],
                                                  "quick": result["config"].get("quick", False)}
    quick = " <b>(a --quick smoke run, not a measurement)</b>" if result["config"].get("quick") else ""
    return (f"<h3>Training curves (bench/gan.py, seeds {H.esc(seeds)}){quick}</h3>" + "".join(figs)
            + H.table(["variant", "kimg", "FID (mean)", "DI (mean)", "smallest class", "editing slope (locator)",
                       "render ms (CPU)"], rows)
            + f"<ul>{targets}</ul>")


def section_gan(ctx) -> str:
    folders = gan_folders()
    if not folders:
        ctx.numbers["gan"] = {"shipped": []}
        return ("<p class='todo'>The shipped GANs (StyleGAN2-style baseline, +SEL and EqGAN-SA) are not trained "
                f"yet. <code>{TRAIN_COMMAND}</code> trains all three for the same number of images on one GPU "
                "(bench/gan.py, two seeds each, about 8 minutes on an H200) and writes their folders under "
                "<code>src/genlens/models/weights/</code>; <code>genlens gan train --arch eqgan-sa</code> trains "
                "one on any device.</p>" + _sampler_figure(ctx) + _bench_part(ctx))
    return _models_part(ctx, folders) + _bench_part(ctx)


def _models_part(ctx, folders: dict[str, Path]) -> str:
    from genlens.gan.edit import interpolate
    from genlens.gan.evaluate import editing_reason, generate, locator_editing, render_ms
    from genlens.gan.io import load_generator
    from genlens.report.scenes_section import shipped_locator, test_scenes
    from genlens.utils.io import read_json

    gens = {a: load_generator(f, device=ctx.device) for a, f in folders.items()}
    n = 16 if ctx.quick else 32
    numbers: dict[str, Any] = {}
    sample_figs = []
    for arch, G in gens.items():
        src = _save(_to01(generate(G, n, seed=ctx.seed)), ctx, f"samples_{arch}.png", nrow=8)
        metrics = read_json(folders[arch] / "manifest.json").get("metrics", {})
        numbers[arch] = {"folder": str(folders[arch]), "kimg": metrics.get("kimg"),
                         "fid": (metrics.get("fid") or {}).get("value")}
        fid = numbers[arch]["fid"]
        cap = f"{ARCH_TITLES[arch]}: {n} samples" + ("" if fid is None else f" (FID {fid:.2f} at training end)")
        sample_figs.append(H.figure(src, cap, width=280))
    parts = ["<p>Samples of the shipped generators (EMA weights), same seed for all three. EqGAN-SA "
             "(Wang et al., CVPR 2022) feeds G Gaussian heatmaps through Spatial Encoding Layers and trains it so "
             "that D's Grad-CAM lands where the heatmaps are.</p>", "".join(sample_figs)]
    sel = [a for a in ("eqgan-sa", "sel-only") if a in gens]
    if sel:
        parts.append(_overlays(ctx, gens, folders, sel))
        parts.append(_editing_strip(ctx, gens, sel))
        locator, threshold = shipped_locator(ctx)
        for arch in (a for a in sel if editing_reason(gens[a], locator) is None):
            ed = locator_editing(gens[arch], locator, test_scenes(ctx, locator), name=arch, n=8 if ctx.quick else 200,
                                 seed=ctx.seed, threshold=threshold, resamples=20 if ctx.quick else 200,
                                 fid_resamples=None)
            numbers[arch]["locator_editing"] = {k: ed[k]["value"] for k in ("slope", "r2", "median_error_px",
                                                                            "object_found")} | {"edits": ed["edits"]}
    else:
        parts.append(_sampler_figure(ctx))
    frames = torch.cat([_to01(interpolate(G, ctx.seed, ctx.seed + 1, steps=8)) for G in gens.values()])
    parts.append(H.figure(_save(frames, ctx, "interpolation.png", nrow=8),
                          "slerp in z from seed to seed+1; rows: " + ", ".join(ARCH_TITLES[a] for a in gens), width=560))
    threads = max(1, min(2, torch.get_num_threads()))
    rows = []
    for arch, G in gens.items():
        r = render_ms(G, threads=threads, repeats=5 if ctx.quick else 50, warmup=2 if ctx.quick else 10)
        numbers[arch]["render_ms"] = r["median_ms"]
        ed = numbers[arch].get("locator_editing")
        rows.append((ARCH_TITLES[arch], f"{r['params'] / 1e6:.2f} M", f"{r['median_ms']:.1f}",
                     "n/a" if ed is None else f"{ed['slope']:.2f} (R² {ed['r2']:.2f}, error "
                                              f"{ed['median_error_px']:.1f} px, found {100 * ed['object_found']:.0f}%, "
                                              f"{ed['edits']} edits)"))
    parts.append(f"<p>Measured now on this machine ({threads} CPU threads): time to render one image from a fixed "
                 "latent with a new heatmap (the explorer's target is 10 ms on 2 cores), and the editing measurement "
                 "(issue 27, docs/spatial.md): real one-item scenes' layouts place the level-1 heatmap, it moves by up "
                 "to a third of the canvas, and the shipped scenes-locator finds the object before and after; the "
                 "slope of the object's move against the heatmap's is 1 when the object follows, 0 when it stays.</p>"
                 + H.table(["variant", "G params", "render ms", "editing slope (locator)"], rows))
    ctx.numbers["gan"] = {"shipped": list(gens), "models": numbers}
    return "".join(parts)


def _overlays(ctx, gens, folders, sel: list[str]) -> str:
    from genlens.attribution.overlay import overlay
    from genlens.gan.discriminator import discriminator_cams, has_discriminator, load_discriminator
    from genlens.gan.edit import latents, render

    arch = sel[0]
    G = gens[arch]
    z, heat = latents(G, 8, ctx.seed)
    fake = render(G, z, heat, seed=ctx.seed)
    img01 = _to01(fake)
    rows = [_rgb(img01)] + [overlay(img01, _heat01(heat.maps[lv]), alpha=0.5) for lv in (1, 3)]
    what = "rows: samples; G's input heatmap level 1; level 3"
    if has_discriminator(folders[arch]):
        D = load_discriminator(folders[arch], device=ctx.device)
        cams = discriminator_cams(D, fake)
        rows += [overlay(img01, cams[lv].cpu(), alpha=0.5) for lv in (1, 3)]
        what += "; D's Grad-CAM at the level-1 block (4 px); at the level-3 block (16 px)"
    src = _save(torch.cat(rows), ctx, f"overlays_{arch}.png", nrow=8)
    return H.figure(src, f"{ARCH_TITLES[arch]}, {what}", width=560)


def _signed_rgb(diff: torch.Tensor, scale: float) -> torch.Tensor:
    """(B, 1, H, W) signed change -> RGB on black: red where the image got brighter, blue where darker,
    full colour at |change| >= ``scale``."""
    d = (diff.float().cpu() / max(scale, 1e-6)).clamp(-1, 1)
    return torch.cat([d.clamp_min(0), torch.zeros_like(d), (-d).clamp_min(0)], dim=1)


def _editing_strip(ctx, gens, sel: list[str]) -> str:
    from genlens.attribution.overlay import colorize
    from genlens.gan.edit import latents, move_level, render

    rows, names, scales = [], [], []
    xs = torch.linspace(-0.6, 0.6, STRIP).tolist()
    for arch in sel:
        G = gens[arch]
        z, heat = latents(G, 1, ctx.seed)
        y = float(heat.centers[1][0, 0, 1])
        moved = [move_level(heat, 1, (x, y), size=G.config.resolution) for x in xs]
        images = torch.cat([render(G, z, h, seed=ctx.seed) for h in moved]).float().cpu()
        # change against the middle frame (centre x = 0): a heatmap that moves content shows red ahead of
        # the centre and blue behind it, swapping sides as the centre crosses the middle
        diff = images - images[STRIP // 2:STRIP // 2 + 1]
        scale = float(diff.abs().flatten().quantile(0.99))  # a few extreme pixels would leave the rest black
        rows.append(torch.cat([colorize(_heat01(h.maps[1])) for h in moved]))
        rows.append(_rgb(_to01(images)))
        rows.append(_signed_rgb(diff, scale))
        names.append(ARCH_TITLES[arch])
        scales.append(f"{ARCH_TITLES[arch]} {scale / 2:.2f}")
    src = _save(torch.cat(rows), ctx, "editing_strip.png", nrow=STRIP)
    return H.figure(src, f"editing: the same latent and noise, level-1 heatmap centre moved from x = -0.6 to 0.6; "
                    f"per variant ({', '.join(names)}) three rows: the heatmap, the image, and the change against "
                    f"the middle frame (red brighter, blue darker; full colour at the 99th percentile of |change|, "
                    f"as a fraction of the intensity range: {', '.join(scales)})", width=STRIP * 80)
