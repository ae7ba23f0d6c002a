"""Class inversion across the zoo: do the images one model makes fool the *other* models too?

    .venv/bin/python bench/inversion.py                 # all 4 architectures, every method, seed 0
    .venv/bin/python bench/inversion.py --seeds 0 1 2   # three seeds: per-seed rows, medians reported
    .venv/bin/python bench/inversion.py --quick         # smoke run, 2 architectures, a few steps, < 90 s
    .venv/bin/python bench/inversion.py --archs fmnist-cnn fmnist-vit --methods pii lucent torch-dreams
    OMP_NUM_THREADS=1 .venv/bin/python bench/inversion.py --time-to-quality [--smoke]   # equal quality: see
                                                        # bench/inversion_ttq.py (key time_to_quality)

For each architecture, every method inverts all 10 classes (n=1) and the images are judged by the other
zoo models (the PII paper's evaluation, arXiv 2201.12961 section 5). Methods: ``pii`` (our tuned preset),
``pii-paper`` (the literal recipe), ``deepdream`` and ``deepinversion`` (BatchNorm models only; ``n/a``
elsewhere), and two peer libraries, ``lucent`` (torch-lucent's ``render_vis``) and ``torch-dreams``
(``Dreamer.render``), each with a class-logit objective, its own default parameterisation (FFT, decorrelated
colour) and transforms, all 10 classes in one batch, optimising RGB at 28 px that our model sees as the
channel mean (``bench/peers/``: what each peer gets and why). Peers are in the default ``--methods`` when
their library is installed (``peers.INSTALL``).

The literal recipes are far too slow for a CPU (pii-paper: 2,800 steps x 8 copies), so every method runs
at the **same budget** as ``pii``: the same number of optimisation steps (``steps_scale`` = pii's steps /
the method's steps; the peers' iteration count) and, for pii-paper, the same ensemble size. DeepDream,
DeepInversion and the peers have no ensemble: one forward/backward of the 10 images per step.

Per method and architecture and seed: cross-architecture top-1/top-5 (mean over the other judges), the
inverted model's own top-1 (for contrast only), Inception Score under genlens-fmnist features, images per
CPU-second (``time.process_time``), wall-clock seconds; the row for a method x architecture holds the
median of each over the seeds (``per_seed`` keeps the seeds' rows). A PNG grid per method x architecture
(first seed; ``_seed<k>`` for the others) under ``<out dir>/inversion/``.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import environment, load_average, write_json
from peers import INSTALL, PEERS, installed, preload

from genlens import load_model
from genlens.inversion.api import invert, resolve_method
from genlens.inversion.evaluate import cross_model_eval
from genlens.inversion.hooks import batchnorm_layers
from genlens.utils.images import save_grid

SCHEMA = 2  # 2: per-seed rows (``seeds``, ``per_seed``) under each per-arch row of medians; peers
ZOO = ["fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"]
QUICK_ARCHS = ["fmnist-cnn", "fmnist-mixer"]
OURS = ["pii", "pii-paper", "deepdream", "deepinversion"]
METHODS = OURS + list(PEERS)
QUICK_STEPS = 8  # pii steps in a --quick run
MEDIAN_KEYS = ("cross_top1", "cross_top5", "own_top1", "wall_s", "cpu_s", "images_per_cpu_s")


def native_steps(method: str, config: Any) -> int:
    """Optimisation steps of a method's preset at steps_scale 1."""
    if method == "pii":
        return config.n_stages * config.stage_steps
    if method == "deepdream":
        return config.octaves * config.steps_per_octave
    if method == "deepinversion":
        return config.low_res_steps + config.full_res_steps
    raise ValueError(f"unknown method {method}")


def budget_plan(preset: str, budget_steps: int, ensemble: int, peer_budget: str = "steps") -> tuple[str, Any, float]:
    """(method, config, steps_scale) that runs ``preset`` for about ``budget_steps`` steps; a PII preset
    also gets the reference ensemble size; a peer gets ``steps=budget_steps`` (scale 1), or with
    ``peer_budget="evals"`` ``budget_steps * ensemble`` steps: as many model forward/backward passes per
    image as PII's ensemble makes (equal compute rather than equal optimiser steps)."""
    if preset in PEERS:
        steps = budget_steps * (ensemble if peer_budget == "evals" else 1)
        return preset, dataclasses.replace(PEERS[preset].config, steps=steps), 1.0
    method, config = resolve_method(preset, None)
    if method == "pii":
        config = dataclasses.replace(config, ensemble=ensemble)
    return method, config, budget_steps / native_steps(method, config)


def generate(handle, labels: torch.Tensor, plan: tuple[str, Any, float], *, seed: int) -> tuple[torch.Tensor, int]:
    """(images (10, 1, 28, 28) in [0, 1], optimisation steps run) for one method, one model, one seed."""
    method, config, scale = plan
    if method in PEERS:
        images, n_steps = PEERS[method].run(handle, labels, config=config, seed=seed)
    else:
        steps: list[int] = []
        images = invert(handle, labels, method=method, preset=config, n=1, seed=seed, steps_scale=scale,
                        callback=lambda row: steps.append(row["step"]))
        n_steps = len(steps)
    want = (len(labels), *handle.input_size)
    if tuple(images.shape) != want or not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise RuntimeError(f"{method} on {handle.name} returned images {tuple(images.shape)} in "
                           f"[{images.min():.3g}, {images.max():.3g}]; the judges need {want}, finite, in [0, 1]")
    return images, n_steps


def run_one(arch: str, handle, preset: str, plan: tuple[str, Any, float], judges: list, *, seed: int,
            png: Path) -> dict[str, Any]:
    """One seed of one method on one architecture: timing, judges' scores, the PNG grid."""
    method, _, scale = plan
    if method == "deepinversion" and not batchnorm_layers(handle.model):
        return {"status": "n/a", "reason": f"{arch} has no BatchNorm layers"}
    labels = torch.arange(len(handle.class_names))
    cpu0, t0 = time.process_time(), time.perf_counter()
    images, steps = generate(handle, labels, plan, seed=seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rep = cross_model_eval(images, labels, judges, source=arch, with_is=True)
    others = {k: v for k, v in rep["judges"].items() if k != arch}
    save_grid(images, png, nrow=10, upscale=2)
    return {
        "status": "ok", "seed": seed, "steps": steps, "steps_scale": scale, "images": int(images.shape[0]),
        "cross_top1": sum(v["top1"] for v in others.values()) / len(others),
        "cross_top5": sum(v["top5"] for v in others.values()) / len(others),
        "own_top1": rep["judges"][arch]["top1"],
        "judges": {k: {"top1": v["top1"], "top5": v["top5"]} for k, v in rep["judges"].items()},
        "inception_score": {"mean": rep["inception_score"]["value"], "std": rep["inception_score"]["std"]},
        "wall_s": wall, "cpu_s": cpu, "images_per_cpu_s": images.shape[0] / max(cpu, 1e-9),
    }


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-arch row: each number the median over the seeds' rows (which it keeps under ``per_seed``)."""
    if rows[0]["status"] != "ok":
        return rows[0]
    med = statistics.median
    out = {**rows[0], **{k: med(r[k] for r in rows) for k in MEDIAN_KEYS}}
    out.pop("seed")
    out["judges"] = {j: {m: med(r["judges"][j][m] for r in rows) for m in ("top1", "top5")} for j in rows[0]["judges"]}
    out["inception_score"] = {"mean": med(r["inception_score"]["mean"] for r in rows),
                              "std": med(r["inception_score"]["std"] for r in rows)}
    out["steps"] = med(r["steps"] for r in rows)
    out["wall_s_total"] = sum(r["wall_s"] for r in rows)
    out["seeds"] = [r["seed"] for r in rows]
    out["per_seed"] = rows
    return out


def summarize(per_arch: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Pair-weighted means of the per-arch medians, and the same mean per seed (spread across seeds)."""
    ok = [r for r in per_arch.values() if r["status"] == "ok"]
    if not ok:
        return {"pairs": 0}
    n_judges = [len(r["judges"]) - 1 for r in ok]

    def pair_mean(values: list[float]) -> float:  # = mean over (source, judge) pairs (equal judges per source)
        return sum(v * n for v, n in zip(values, n_judges)) / sum(n_judges)

    seeds = ok[0]["seeds"]
    return {"pairs": sum(n_judges),
            "cross_top1_mean": pair_mean([r["cross_top1"] for r in ok]),
            "cross_top5_mean": pair_mean([r["cross_top5"] for r in ok]),
            "own_top1_mean": sum(r["own_top1"] for r in ok) / len(ok),
            "cross_top1_by_seed": {str(s): pair_mean([r["per_seed"][i]["cross_top1"] for r in ok])
                                   for i, s in enumerate(seeds)},
            "wall_s": sum(r["wall_s_total"] for r in ok)}


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
    plans = {p: budget_plan(p, budget, pii.ensemble, args.peer_budget) for p in args.methods}
    png_dir = Path(args.out).parent / "inversion"
    for p in args.methods:
        if p in PEERS:
            preload(p)  # import time is not the peer's inversion time
    result: dict[str, Any] = {
        "benchmark": "inversion", "schema": SCHEMA, "env": env,
        "config": {"archs": args.archs, "methods": args.methods, "budget_steps": budget, "peer_budget": args.peer_budget,
                   "seed": args.seeds[0], "seeds": args.seeds, "classes": 10, "n_per_class": 1,
                   "quick": args.quick, "threads": args.threads, "ensemble": pii.ensemble,
                   "peers": [p for p in args.methods if p in PEERS],
                   "presets": {p: {"method": m, "steps_scale": s, **dataclasses.asdict(c)}
                               for p, (m, c, s) in plans.items()}},
        "judges": ZOO, "methods": {}, "wall_seconds": 0.0,
    }
    for preset in args.methods:
        per_arch = {}
        for arch in args.archs:
            rows = []
            for k, seed in enumerate(args.seeds):
                progress(f"{preset} on {arch}, seed {seed}")
                png = png_dir / (f"{preset}_{arch}.png" if k == 0 else f"{preset}_{arch}_seed{seed}.png")
                rows.append(run_one(arch, by_name[arch], preset, plans[preset], judges, seed=seed, png=png))
            per_arch[arch] = median_row(rows)
        result["methods"][preset] = {"per_arch": per_arch, "summary": summarize(per_arch), "peer": preset in PEERS}
        env["load_average_end"] = load_average()
        result["wall_seconds"] = time.perf_counter() - t_start
        save(result)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", nargs="+", default=None, help="zoo names to invert (default: all 4)")
    p.add_argument("--methods", nargs="+", default=None, choices=METHODS,
                   help="default: ours and every installed peer")
    p.add_argument("--peer-budget", choices=["steps", "evals"], default="steps",
                   help="peers get pii's optimiser steps (steps) or its model evaluations per image (evals)")
    p.add_argument("--steps-scale", type=float, default=1.0, help="scale of the pii budget (1 = the preset)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds to run each method with (medians)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_ARCHS}, {QUICK_STEPS} steps")
    p.add_argument("--out", default="bench/results/inversion.json", help="result file (PNGs beside it)")
    args = p.parse_args(argv)
    args.archs = args.archs or (QUICK_ARCHS if args.quick else ZOO)
    for a in args.archs:
        if a not in ZOO:
            p.error(f"unknown architecture {a}; choose from {', '.join(ZOO)}")
    if args.methods is None:
        args.methods = OURS + [m for m in PEERS if installed(m)]
    missing = [m for m in args.methods if m in PEERS and not installed(m)]
    if missing:
        p.error(f"peer {', '.join(missing)} is not installed; install with: {INSTALL}")
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f"--seeds has repeats: {args.seeds}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--time-to-quality" in argv:  # accuracy against CPU-seconds, every method at 5 budgets (bench/inversion_ttq.py)
        import inversion_ttq

        return inversion_ttq.main(argv)
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
