"""Class inversion across the zoo: do the images one model makes fool the *other* models too?

    .venv/bin/python bench/inversion.py                 # all 4 architectures, every method
    .venv/bin/python bench/inversion.py --quick         # smoke run, 2 architectures, a few steps, < 90 s
    .venv/bin/python bench/inversion.py --archs fmnist-cnn fmnist-vit

For each architecture, every method inverts all 10 classes (n=1, seed 0) and the images are judged by
the other zoo models (the PII paper's evaluation, arXiv 2201.12961 section 5). Methods: ``pii`` (our
tuned preset), ``pii-paper`` (the literal recipe), ``deepdream`` and ``deepinversion`` (BatchNorm models
only; ``n/a`` elsewhere). The literal recipes are far too slow for a CPU (pii-paper: 2,800 steps x 8
copies), so every method runs at the **same budget** as ``pii``: the same number of optimisation steps
(``steps_scale`` = pii's steps / the method's steps) and, for pii-paper, the same ensemble size.
DeepDream and DeepInversion have no ensemble: they optimise the 10 images with their own augmentations.

Per method and architecture: cross-architecture top-1/top-5 (mean over the other judges), the inverted
model's own top-1 (for contrast only), Inception Score under genlens-fmnist features, images per
CPU-second, wall-clock seconds; a PNG grid per method x architecture under ``<out dir>/inversion/``.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import environment, load_average, write_json

from genlens import load_model
from genlens.inversion.api import invert, resolve_method
from genlens.inversion.evaluate import cross_model_eval
from genlens.inversion.hooks import batchnorm_layers
from genlens.utils.images import save_grid

SCHEMA = 1
ZOO = ["fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"]
QUICK_ARCHS = ["fmnist-cnn", "fmnist-mixer"]
METHODS = ["pii", "pii-paper", "deepdream", "deepinversion"]
QUICK_STEPS = 8  # pii steps in a --quick run


def native_steps(method: str, config: Any) -> int:
    """Optimisation steps of a method's preset at steps_scale 1."""
    if method == "pii":
        return config.n_stages * config.stage_steps
    if method == "deepdream":
        return config.octaves * config.steps_per_octave
    if method == "deepinversion":
        return config.low_res_steps + config.full_res_steps
    raise ValueError(f"unknown method {method}")


def budget_plan(preset: str, budget_steps: int, ensemble: int) -> tuple[str, Any, float]:
    """(method, config, steps_scale) that runs ``preset`` for about ``budget_steps`` steps; a PII preset
    also gets the reference ensemble size."""
    method, config = resolve_method(preset, None)
    if method == "pii":
        config = dataclasses.replace(config, ensemble=ensemble)
    return method, config, budget_steps / native_steps(method, config)


def run_one(arch: str, handle, preset: str, plan: tuple[str, Any, float], judges: list, *, seed: int,
            png_dir: Path) -> dict[str, Any]:
    method, config, scale = plan
    if method == "deepinversion" and not batchnorm_layers(handle.model):
        return {"status": "n/a", "reason": f"{arch} has no BatchNorm layers"}
    steps: list[int] = []
    labels = torch.arange(len(handle.class_names))
    cpu0, t0 = time.process_time(), time.perf_counter()
    images = invert(handle, labels, method=method, preset=config, n=1, seed=seed, steps_scale=scale,
                    callback=lambda row: steps.append(row["step"]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rep = cross_model_eval(images, labels, judges, source=arch, with_is=True)
    others = {k: v for k, v in rep["judges"].items() if k != arch}
    save_grid(images, png_dir / f"{preset}_{arch}.png", nrow=10, upscale=2)
    return {
        "status": "ok", "steps": len(steps), "steps_scale": scale, "images": int(images.shape[0]),
        "cross_top1": sum(v["top1"] for v in others.values()) / len(others),
        "cross_top5": sum(v["top5"] for v in others.values()) / len(others),
        "own_top1": rep["judges"][arch]["top1"],
        "judges": {k: {"top1": v["top1"], "top5": v["top5"]} for k, v in rep["judges"].items()},
        "inception_score": {"mean": rep["inception_score"]["value"], "std": rep["inception_score"]["std"]},
        "wall_s": wall, "cpu_s": cpu, "images_per_cpu_s": images.shape[0] / max(cpu, 1e-9),
    }


def summarize(per_arch: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in per_arch.values() if r["status"] == "ok"]
    if not ok:
        return {"pairs": 0}
    n_judges = [len(r["judges"]) - 1 for r in ok]
    return {"pairs": sum(n_judges),  # mean over (source, judge) pairs = mean of per-source means (equal judges)
            "cross_top1_mean": sum(r["cross_top1"] * n for r, n in zip(ok, n_judges)) / sum(n_judges),
            "cross_top5_mean": sum(r["cross_top5"] * n for r, n in zip(ok, n_judges)) / sum(n_judges),
            "own_top1_mean": sum(r["own_top1"] for r in ok) / len(ok),
            "wall_s": sum(r["wall_s"] for r in ok)}


def run(args: argparse.Namespace, progress=lambda _msg: None, save=lambda _result: None) -> dict[str, Any]:
    """Method-major (pii on every architecture first); ``save(result)`` after each method, so a stopped
    run still leaves its finished methods on disk."""
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    env = environment(torch.device("cpu"))
    judges = [load_model(a) for a in ZOO]
    by_name = {h.name: h for h in judges}
    _, pii = resolve_method("pii", None)
    budget = QUICK_STEPS if args.quick else round(native_steps("pii", pii) * args.steps_scale)
    plans = {p: budget_plan(p, budget, pii.ensemble) for p in args.methods}
    png_dir = Path(args.out).parent / "inversion"
    result: dict[str, Any] = {
        "benchmark": "inversion", "schema": SCHEMA, "env": env,
        "config": {"archs": args.archs, "methods": args.methods, "budget_steps": budget, "seed": args.seed,
                   "classes": 10, "n_per_class": 1, "quick": args.quick, "threads": args.threads,
                   "ensemble": pii.ensemble,
                   "presets": {p: {"method": m, "steps_scale": s, **dataclasses.asdict(c)}
                               for p, (m, c, s) in plans.items()}},
        "judges": ZOO, "methods": {}, "wall_seconds": 0.0,
    }
    for preset in args.methods:
        per_arch = {}
        for arch in args.archs:
            progress(f"{preset} on {arch}")
            per_arch[arch] = run_one(arch, by_name[arch], preset, plans[preset], judges, seed=args.seed,
                                     png_dir=png_dir)
        result["methods"][preset] = {"per_arch": per_arch, "summary": summarize(per_arch)}
        env["load_average_end"] = load_average()
        result["wall_seconds"] = time.perf_counter() - t_start
        save(result)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", nargs="+", default=None, help="zoo names to invert (default: all 4)")
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    p.add_argument("--steps-scale", type=float, default=1.0, help="scale of the pii budget (1 = the preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_ARCHS}, {QUICK_STEPS} steps")
    p.add_argument("--out", default="bench/results/inversion.json", help="result file (PNGs beside it)")
    args = p.parse_args(argv)
    args.archs = args.archs or (QUICK_ARCHS if args.quick else ZOO)
    for a in args.archs:
        if a not in ZOO:
            p.error(f"unknown architecture {a}; choose from {', '.join(ZOO)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args, progress=lambda msg: print(f"[inversion] {msg}", file=sys.stderr, flush=True),
                 save=lambda r: write_json(args.out, r))
    path = Path(args.out)
    from table import inversion_table

    print(inversion_table(result))
    print(f"\nwrote {path} in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
