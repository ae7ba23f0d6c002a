"""Spatial-control benchmark (issue 27, item 5 and "Targets"): the editing measurement for every generator given.

For each generator (``ADAPTER`` or ``ADAPTER:SOURCE``, a model folder or shipped name, through the adapters of
:mod:`genlens.metrics.spatial_generators`) and for an untrained generator of the same shape (the floor), over
the evaluation seeds fixed below before any result was seen: move one blob of a real test scene's layout,
render before and after from the same latent, find the objects with the locator, and report the slope, R^2,
placement error, class and count kept, and the FID of edited against unedited samples, each with a 95 %
bootstrap interval (:func:`genlens.metrics.editing.measure_editing`). The locator's own scores on the real
test scenes are written beside the results, and the FID's extractor is named.

    .venv/bin/python bench/spatial.py --generator layout-gan:scenes-gan-layout   # the shipped scenes-locator
    .venv/bin/python bench/spatial.py --quick --locator runs/locator      # paste-follow only (the ceiling)
    .venv/bin/python bench/spatial.py --generator layout-gan:scenes-gan-layout --baseline free-gan:scenes-gan

Sample quality (:mod:`spatial_quality`): every generator's FID against N real test scenes per evaluation seed
(same extractor), and with ``--baseline`` the ratio of each layout model's FID to the baseline's, with a 95 %
bootstrap interval and its verdict against 1.5. EqGAN-SA comparison (:mod:`spatial_compare`, ``--sa ROLE:RUN_DIR``):
editing statistics, FID and DI of each EqGAN-SA, SEL-only and baseline run and the untrained floor, and per
training seed the slope difference EqGAN-SA minus SEL-only with its paired bootstrap interval and the verdict.

    .venv/bin/python bench/spatial.py --sa eqgan-sa:runs/spatial/scenes-eqgan-sa-s0 --sa sel-only:runs/spatial/scenes-sel-only-s0

Writes bench/results/spatial.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, load_average, write_json
from spatial_compare import compare, parse_runs
from spatial_quality import sample_quality

from genlens.data.scenes import SceneConfig, load_scenes
from genlens.errors import GenlensError
from genlens.metrics.editing import EditingConfig, editing_layouts, locator_finder, measure_editing
from genlens.metrics.intervals import MIN_SEEDS, Interval, seed_interval, verdict
from genlens.metrics.locator import load_locator, locator_threshold, resolve_locator
from genlens.metrics.locator_eval import evaluate_locator
from genlens.metrics.spatial_analytic import PooledPixels
from genlens.metrics.spatial_generators import SPATIAL_GENERATORS, LocatorFeatures, load_adapter

# --- pre-registered configuration (issue 27): change only with a note in docs/spatial.md ---------------
SEEDS = (0, 1, 2)  # evaluation seeds: layouts, moves and latents
N_EDITS = 2000  # edits per seed, also the samples on each side of the FID
MAX_MOVE = 1 / 3  # longest move, fraction of the canvas
RESAMPLES, FID_RESAMPLES = 1000, 200  # bootstrap draws (FID_RESAMPLES: the sample-quality ratio's, for information)
# The FID of edited against unedited samples gets no bootstrap (changed 2026-12-07, docs/spatial.md): resampling
# with replacement duplicates samples and FID's small-sample bias then dominates (the draws lay above the value);
# its interval is the t interval over the evaluation seeds in ``over_seeds``.
EDIT_FID_RESAMPLES = 0
DI_N = 1024  # real test scenes (and fresh fakes) for the disequilibrium indicator of the EqGAN-SA comparison
N_QUALITY = 2000  # generated samples and real test scenes on each side of the sample-quality FID, per seed
DEFAULT_GENERATORS = ("paste-follow",)  # the ceiling: real garments pasted exactly on the layout
TARGETS = {"median_error_px": ("<=", 1.5), "slope": ("in", (0.9, 1.1)), "r2": (">=", 0.9),
           "class_right": (">=", 0.95), "count_right": (">=", 0.95)}  # layout-conditioned models, 32-px canvas
QUICK = {"n": 24, "resamples": 40, "fid_resamples": 5, "locator_scenes": 200}
STATS = ("slope", "r2", "median_error_px", "class_kept", "class_right", "count_kept", "count_right", "object_found",
         "fid_edited_vs_unedited")


def clean(obj: Any) -> Any:
    """NaN and infinity -> None, so the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def over_seeds(per_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of each statistic's value, with the smallest and largest seed value and, from 3 seeds on,
    the 95 % Student-t interval of the mean (:func:`genlens.metrics.intervals.seed_interval`)."""
    out: dict[str, Any] = {}
    for stat in STATS:
        vals = [r[stat]["value"] for r in per_seed.values() if stat in r and not math.isnan(r[stat]["value"])]
        if vals:
            out[stat] = {"mean": statistics.fmean(vals), "min": min(vals), "max": max(vals), "seeds": len(vals)}
            if len(vals) >= MIN_SEEDS:
                iv = seed_interval(vals)
                out[stat].update(low=iv.low, high=iv.high, interval=iv.method)
    out["shortened"] = sum(r["shortened"] for r in per_seed.values())
    return out


def meets(summary: dict[str, Any]) -> dict[str, str | None]:
    """Each target's word (met / at the bar / missed) from the seed interval of the mean (None where the
    statistic is missing or has fewer than 3 seeds). A range target (the slope) is met when the interval lies
    inside the range, missed when it lies wholly outside, at the bar otherwise."""
    out: dict[str, str | None] = {}
    for stat, (op, bound) in TARGETS.items():
        s = summary.get(stat, {})
        if "low" not in s:
            out[stat] = None
        elif op in ("<=", ">="):
            iv = Interval(s["mean"], s["low"], s["high"], 0.95, s["interval"], s["seeds"])
            out[stat] = verdict(iv, bound, higher_is_better=op == ">=")
        else:
            lo, hi = bound
            out[stat] = ("met" if lo < s["low"] and s["high"] < hi else
                         "missed" if s["high"] < lo or s["low"] > hi else "at the bar")
    return out


def plan_runs(root: Path) -> list[str]:
    """``ROLE:RUN_DIR`` of every GAN run of bench/spatial_train.py's plan (and its GPU seeds, where trained) under
    ``root`` that has its model, in seed order; EqGAN-SA and SEL-only only for the training seeds both have finished
    (the comparison pairs them by order)."""
    from spatial_train import GPU_RUNS, PLAN

    done = [r for r in sorted((*PLAN, *GPU_RUNS), key=lambda r: r.seed)
            if r.role is not None and (root / r.folder / "model" / "config.json").is_file()]
    both = {r.seed for r in done if r.role == "eqgan-sa"} & {r.seed for r in done if r.role == "sel-only"}
    return [f"{r.role}:{root / r.folder}" for r in done if r.role == "baseline" or r.seed in both]


def quality_part(args: argparse.Namespace, trained: list[Any], test: Any, extractor: Any,
                 quick: dict[str, int]) -> dict[str, Any]:
    """Sample quality of the generators given and ``--baseline`` (spatial_quality.py)."""
    baseline = None
    if args.baseline:
        baseline = load_adapter(args.baseline, device=args.device)
        trained = [g for g in trained if g.name != baseline.name] + [baseline]
    return sample_quality(trained, test, extractor, seeds=SEEDS, n=quick.get("n", N_QUALITY),
                          baseline=None if baseline is None else baseline.name,
                          resamples=quick.get("fid_resamples", FID_RESAMPLES))


def comparison_part(args: argparse.Namespace, sa: list[str], locator: Any, threshold: float, test: Any,
                    extractor: Any, quick: dict[str, int]) -> dict[str, Any]:
    """The EqGAN-SA comparison of the ``--sa`` / ``--sa-plan`` runs (spatial_compare.py)."""
    config = EditingConfig(n=quick.get("n", args.n), max_move=MAX_MOVE, threshold=threshold,
                           resamples=quick.get("resamples", RESAMPLES),
                           fid_resamples=EDIT_FID_RESAMPLES)
    return compare(parse_runs(sa), locator_finder(locator, threshold=threshold), test, seeds=SEEDS, config=config,
                   extractor=extractor, di_n=quick.get("n", DI_N), device=args.device,
                   quality=lambda gens: sample_quality(gens, test, extractor, seeds=SEEDS,
                                                       n=quick.get("n", N_QUALITY), baseline=None, resamples=0))


def say(t0: float, msg: str) -> None:
    """Progress on stderr (a full run takes about an hour on 2 cores): elapsed wall seconds and what finished."""
    print(f"[spatial] {time.perf_counter() - t0:6.0f} s  {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    quick = QUICK if args.quick else {}
    locator = load_locator(args.locator, device=args.device)
    threshold = locator_threshold(args.locator)
    test = load_scenes(SceneConfig(split="test", canvas=locator.config.canvas, rgb=locator.config.channels == 3))
    scored = test.subset(torch.arange(quick["locator_scenes"])) if quick else test
    locator_scores = evaluate_locator(locator, scored, threshold=threshold)
    extractor = (LocatorFeatures(locator, name=f"locator-backbone:{Path(args.locator).name}")
                 if args.features == "locator" else PooledPixels())
    n = quick.get("n", args.n)
    results: dict[str, Any] = {}
    trained = []  # the generators (not their floors) whose samples' FID against real test scenes is reported
    for spec in args.generator or DEFAULT_GENERATORS:
        for untrained in (False, True):
            gen = load_adapter(spec, untrained=untrained, seed=0, device=args.device)
            if not untrained:
                trained.append(gen)
            per_seed = {}
            for seed in SEEDS:
                # heatmap generators (no classes, one level-1 blob) are measured on the one-item scenes
                layouts = editing_layouts(test, n=n, class_aware=gen.class_aware, seed=seed)
                config = EditingConfig(n=n, max_move=MAX_MOVE, threshold=threshold, seed=seed,
                                       resamples=quick.get("resamples", RESAMPLES),
                                       fid_resamples=EDIT_FID_RESAMPLES)
                per_seed[str(seed)] = measure_editing(gen, locator, layouts, config=config,
                                                      extractor=extractor)
                say(t0, f"editing: {gen.name}, seed {seed}")  # a floor's name says so
            summary = over_seeds(per_seed)
            results[gen.name] = {"spec": spec, "floor": untrained, "class_aware": gen.class_aware,
                                 "over_seeds": summary, "targets_met": meets(summary), "seeds": per_seed}
    quality = quality_part(args, trained, test, extractor, quick)
    say(t0, "sample quality")
    sa = list(args.sa or []) + (plan_runs(Path(args.sa_plan)) if args.sa_plan else [])
    comparison = comparison_part(args, sa, locator, threshold, test, extractor, quick) if sa else None
    if sa:
        say(t0, f"EqGAN-SA comparison of {len(sa)} runs")
    return {
        "benchmark": "spatial",
        "config": {"seeds": list(SEEDS), "n_edits": n, "max_move": MAX_MOVE, "resamples": RESAMPLES,
                   "fid_resamples": FID_RESAMPLES, "edit_fid_resamples": EDIT_FID_RESAMPLES,
                   "n_quality": N_QUALITY, "di_n": DI_N,
                   "baseline": args.baseline, "sa_runs": sa, "quick": bool(args.quick), "generators": args.generator or
                   list(DEFAULT_GENERATORS), "adapters": SPATIAL_GENERATORS.available()},
        "targets": {k: f"{op} {b}" for k, (op, b) in TARGETS.items()},
        "locator": {"folder": str(args.locator), "threshold": threshold, "config": dataclasses.asdict(locator.config),
                    "test_scenes": len(scored), "test": locator_scores},
        "extractor": extractor.name,
        "layouts": "ground truth of the real fashion-scenes test scenes, a fresh permutation per seed (generators "
                   "whose heatmaps carry no class: the one-item scenes only)",
        "generators": results,
        "sample_quality": quality,
        "eqgan_sa_comparison": comparison,
        "env": {**environment(torch.device(args.device)), "load_average": load_average()},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locator", default="scenes-locator", help="locator folder (genlens locator train) or shipped "
                    "name (default scenes-locator)")
    ap.add_argument("--generator", action="append", help="ADAPTER or ADAPTER:SOURCE (repeatable); default: "
                    "paste-follow, real garments pasted on the layout")
    ap.add_argument("--baseline", help="the unconditional baseline for the sample-quality FID ratio, e.g. "
                    "free-gan:scenes-gan or free-gan:runs/spatial/scenes-gan-s0/model")
    ap.add_argument("--sa", action="append", help="EqGAN-SA comparison: ROLE:RUN_DIR (repeatable), ROLE one of "
                    "eqgan-sa, sel-only, baseline; runs of one role in training-seed order")
    ap.add_argument("--sa-plan", metavar="ROOT", help="EqGAN-SA comparison on every finished GAN run of "
                    "bench/spatial_train.py's plan under ROOT (its --root, e.g. .)")
    ap.add_argument("--features", choices=("locator", "pooled-pixels"), default="locator",
                    help="FID extractor: the locator's backbone (default) or pooled pixels (smoke runs)")
    ap.add_argument("--n", type=int, default=N_EDITS)
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "spatial.json"))
    args = ap.parse_args(argv)
    if not resolve_locator(args.locator).is_dir():
        raise SystemExit(f"spatial.py: no locator folder at '{args.locator}'; train one with genlens locator train")
    try:
        result = clean(run(args))
    except GenlensError as exc:
        raise SystemExit(f"spatial.py: {exc}") from None
    write_json(args.out, result)
    for name, r in result["generators"].items():
        s = r["over_seeds"]
        print(f"{name:32s} slope {s.get('slope', {}).get('mean')}  r2 {s.get('r2', {}).get('mean')}  "
              f"error {s.get('median_error_px', {}).get('mean')} px", flush=True)
    for name, r in result["sample_quality"]["ratios"].items():
        print(f"FID ratio {name} / baseline: {r['estimate']} [{r['low']}, {r['high']}] -> {r['verdict']}", flush=True)
    if result["eqgan_sa_comparison"]:
        print(result["eqgan_sa_comparison"]["table"], "\n" + result["eqgan_sa_comparison"]["verdict"], flush=True)
    return result


if __name__ == "__main__":
    main()
