"""GAN benchmark (issue 5, "Targets"): StyleGAN2-style baseline vs +SEL vs EqGAN-SA at equal images seen.

For every arch x seed the same training (``genlens.gan.train.train_gan``: same data order, batch, number of
images) runs in chunks; after each chunk (every ``kimg / evals`` thousand images) we record FID of the EMA
generator (genlens-fmnist features, ``--fid-n`` samples vs the 10,000 test images) and the disequilibrium
indicator DI = E[D(held-out real)] - E[D(G(z))] on raw logits (``--di-n`` each), and for heatmap generators
the editing slope on ``--curve-edits`` edits (so the curve shows when G takes up or drops heatmap control;
``locator_editing_slope_vs_kimg.png``). At the end: FID and KID
with ``--final-fid-n`` samples, class coverage of ``--coverage-n`` samples under the zoo CNN, the editing
measurement of issue 27 on ``--edits`` edits (heatmap-carrying archs only: real one-item scenes' layouts, the
level-1 heatmap moved, the object found by ``--locator``, default the shipped scenes-locator; slope 1 = the
object follows; :func:`genlens.gan.evaluate.locator_editing`) and, per arch, the CPU time to render one image
with a new heatmap.
Results are medians and means over seeds; ``targets`` says which of the issue's targets are met.

    .venv/bin/python bench/gan.py --quick                      # CPU smoke run (tiny nets, a few steps), < 60 s
    python3 bench/gan.py --device cuda --parallel 6 --budget-s 330   # GPU: kimg chosen to fit 330 s

Models are shipped by ``genlens gan train`` (its manifest holds that command), not by this harness. The runs
themselves live in bench/gan_runs.py; experiments/gan_variants.py runs the same comparison with the official
code's variants injected.

``--budget-s`` first measures every run's images/s in parallel (a short calibration with the real settings),
then chooses ``--kimg`` so that the slowest run, its evaluations included, fits in the budget; all runs
still see the same number of images. ``--deadline-s`` is a safety net: a run past it stops at the next
evaluation point, and the comparisons use the largest kimg that every run reached.

Without a GPU the full comparison is hours of CPU (half width: 34 / 20 img/s on 2 threads for StyleGAN2 /
EqGAN-SA), so it can be spread over sessions: ``--pause-after-s S`` stops every unfinished run at its next
evaluation point after S seconds and exits without results (each run's checkpoint and curve so far stay in
``--run-root``); the same command with ``--resume`` continues exactly where each run stopped:

    .venv/bin/python bench/gan.py --device cpu --parallel 2 --kimg 100 --run-root runs/gan-cpu --pause-after-s 7200
    .venv/bin/python bench/gan.py --device cpu --parallel 2 --kimg 100 --run-root runs/gan-cpu --pause-after-s 7200 --resume

A run can also be extended: ``--resume`` with a larger ``--kimg`` and ``--evals`` in proportion (the same images
per evaluation chunk) continues every finished run and keeps its earlier curve points, e.g. the shipped
40-kimg comparison (``--kimg 40 --evals 8``) to 80 kimg with ``--kimg 80 --evals 16 --resume``.
Runs that are already finished reuse their saved final metrics (FID/KID, coverage, editing) when the
final settings match; ``--recompute-final`` evaluates them again (e.g. after a change to the evaluation code).
"""
from __future__ import annotations

import argparse
import math
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gan_runs
from common import Runner, environment, load_average, stop_on_sigterm, write_json
from gan_runs import PROGRESS_FILE, SHIPPED, WIDTHS, Variant, log, model_config  # noqa: F401 (PROGRESS_FILE: tests)

from genlens.gan.networks import ARCHS
from genlens.utils.config_io import to_dict

SCHEMA = 1
FULL = {"kimg": 200.0, "batch": 64, "evals": 10, "fid_n": 5000, "final_fid_n": 10000, "coverage_n": 2000,
        "di_n": 1024, "edits": 500, "curve_edits": 100, "limit": None, "width": "half", "render_repeats": 100, "ref_n": None,
        "render_threads": 2, "calib_warm": 10, "calib_steps": 20}
QUICK = {"kimg": 0.128, "batch": 8, "evals": 2, "fid_n": 64, "final_fid_n": 128, "coverage_n": 200, "di_n": 32,
         "edits": 4, "curve_edits": 4, "limit": 512, "width": "tiny", "render_repeats": 10, "ref_n": 500, "render_threads": 1,
         "calib_warm": 2, "calib_steps": 4}
CHUNK_OVERHEAD_S = 2.0  # per evaluation point: rebuild, checkpoint load and save (a guess, generous on a GPU)
TAIL_S = 20.0  # after training: render times, JSON, PNGs


# --- the experiment -----------------------------------------------------------------------------------

def _boundaries(kimg: float, batch: int, evals: int) -> tuple[int, list[int]]:
    """Total steps (a multiple of ``evals``) for ``kimg`` thousand images and the evaluation steps."""
    chunk = max(1, math.ceil(kimg * 1000 / batch / evals))
    return chunk * evals, [chunk * (i + 1) for i in range(evals)]


def choose_kimg(calib: list[dict[str, Any]], args: argparse.Namespace, *, seconds_left: float,
                waves: int) -> tuple[float, dict[str, Any]]:
    """The largest kimg whose slowest run (training, evaluations, checkpoints) fits in ``seconds_left / waves``."""
    ips = min(c["images_per_s"] for c in calib)
    t_eval = max(c["eval_s"] for c in calib) + CHUNK_OVERHEAD_S
    t_final = t_eval * (args.final_fid_n + args.coverage_n) / max(args.fid_n, 1) + 10.0
    train_s = seconds_left / waves - args.evals * t_eval - t_final
    kimg = max(args.evals * args.batch / 1000, 0.9 * train_s * ips / 1000)  # 10 % margin
    info = {"slowest_images_per_s": ips, "eval_s": t_eval, "final_eval_s_estimate": t_final, "waves": waves,
            "seconds_left": seconds_left, "train_s_available": train_s, "runs": calib}
    return round(kimg, 3), info


def _value(result: dict[str, Any] | None, key: str) -> float | None:
    """A statistic's value from a locator editing result (None without one, or where it is NaN)."""
    v = (result or {}).get(key, {}).get("value")
    return v if v is not None and math.isfinite(v) else None


def _stats(values: list[float | None]) -> dict[str, Any] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"mean": statistics.fmean(vals), "median": statistics.median(vals),
            "std": statistics.pstdev(vals) if len(vals) > 1 else 0.0, "per_seed": list(values)}


def summarize(runs: list[dict[str, Any]], archs: list[str]) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Per-arch statistics over seeds, mean curves, and the largest kimg every run reached."""
    compare_kimg = min(r["curve"][-1]["kimg"] for r in runs)
    summary, curves = {}, {}
    for arch in archs:
        rs = sorted((r for r in runs if r["arch"] == arch), key=lambda r: r["seed"])
        at = [next(p for p in r["curve"] if math.isclose(p["kimg"], compare_kimg)) for r in rs]
        ed = [r["final"].get("locator_editing") for r in rs]
        summary[arch] = {
            "seeds": [r["seed"] for r in rs], "kimg": [r["kimg"] for r in rs],
            "fid": _stats([r["final"]["fid"]["value"] for r in rs]),
            "kid": _stats([r["final"]["kid"]["value"] for r in rs]),
            "di": _stats([r["final"]["di"] for r in rs]),
            "fid_at_compare": _stats([p["fid"] for p in at]), "di_at_compare": _stats([p["di"] for p in at]),
            "coverage_min_fraction": _stats([r["final"]["coverage"]["min_fraction"] for r in rs]),
            "coverage_min_class": [r["final"]["coverage"]["min_class"] for r in rs],
            "coverage_kl": _stats([r["final"]["coverage"]["kl_to_uniform"] for r in rs]),
            # the locator's editing measurement (issue 27): object displacement against the heatmap's move
            "locator_editing_slope": _stats([_value(e, "slope") for e in ed]),
            "locator_editing_r2": _stats([_value(e, "r2") for e in ed]),
            "locator_editing_error_px": _stats([_value(e, "median_error_px") for e in ed]),
            "locator_editing_object_found": _stats([_value(e, "object_found") for e in ed]),
            "images_per_s": _stats([r["images_per_s"] for r in rs]),
            "train_seconds": _stats([r["train_seconds"] for r in rs]),
            "extractor": rs[0]["final"]["fid"]["extractor"], "fid_n": rs[0]["final"]["fid"]["n_fake"],
        }
        kimgs = [p["kimg"] for p in rs[0]["curve"]]
        shared = [k for k in kimgs if all(any(math.isclose(p["kimg"], k) for p in r["curve"]) for r in rs)]

        def mean_at(key: str, k: float, rs=rs) -> float:
            return statistics.fmean(next(p[key] for p in r["curve"] if math.isclose(p["kimg"], k)) for r in rs)

        curves[arch] = {"kimg": shared, "fid_mean": [mean_at("fid", k) for k in shared],
                        "di_mean": [mean_at("di", k) for k in shared],
                        "per_seed": {str(r["seed"]): {"kimg": [p["kimg"] for p in r["curve"]],
                                                      "fid": [p["fid"] for p in r["curve"]],
                                                      "di": [p["di"] for p in r["curve"]]} for r in rs}}
        # The editing slope per point: only runs made since bench/gan.py records it, and only SEL generators.
        if all(p.get("locator_editing_slope") is not None for r in rs for p in r["curve"]):
            curves[arch]["locator_editing_slope_mean"] = [mean_at("locator_editing_slope", k) for k in shared]
            for r in rs:
                curves[arch]["per_seed"][str(r["seed"])]["locator_editing_slope"] = [p["locator_editing_slope"] for p in r["curve"]]
    return summary, curves, compare_kimg


def targets(summary: dict[str, Any], render: dict[str, Any], compare_kimg: float) -> dict[str, Any]:
    """The issue's four targets, each ``{"met": bool | None, "detail": str}`` (None: not measurable here)."""
    out: dict[str, Any] = {}
    base, eq = summary.get("stylegan2"), summary.get("eqgan-sa")
    for key, what in (("fid", "FID"), ("di", "DI")):
        name = f"{key}_eqgan_below_baseline"
        if base and eq:
            b, e = base[f"{key}_at_compare"]["per_seed"], eq[f"{key}_at_compare"]["per_seed"]
            pairs = list(zip(base["seeds"], b, e, strict=False))
            met = all(ev < bv for _, bv, ev in pairs) and len(pairs) >= 2
            detail = "; ".join(f"seed {s}: {ev:.3f} vs {bv:.3f}" for s, bv, ev in pairs)
            out[name] = {"met": met, "detail": f"{what} at {compare_kimg:g} kimg, eqgan-sa vs stylegan2: {detail}"
                         + ("" if len(pairs) >= 2 else " (needs >= 2 seeds)")}
        else:
            out[name] = {"met": None, "detail": "needs both stylegan2 and eqgan-sa"}
    lows = {a: min(s["coverage_min_fraction"]["per_seed"]) for a, s in summary.items()}
    out["coverage_all_classes_4pct"] = {"met": all(v >= 0.04 for v in lows.values()),
                                        "detail": ", ".join(f"{a}: smallest class {100 * v:.1f}%" for a, v in lows.items())}
    if eq and eq["locator_editing_slope"]:  # issue 27's slope target for generators that put objects where asked
        r = eq["locator_editing_slope"]["mean"]
        out["locator_editing_slope_0.9_1.1"] = {"met": 0.9 <= r <= 1.1, "detail": f"eqgan-sa mean slope = {r:.3f} "
                                        "(object displacement against the heatmap's move, found by the locator)"}
    else:
        out["locator_editing_slope_0.9_1.1"] = {"met": None, "detail": "needs eqgan-sa"}
    if "eqgan-sa" in render:
        ms = render["eqgan-sa"]["median_ms"]
        out["render_10ms"] = {"met": ms <= 10.0, "detail": f"eqgan-sa {ms:.2f} ms on {render['eqgan-sa']['threads']} "
                              f"threads of {render['eqgan-sa']['cpu']}"}
    return out


def measure_render(archs: list[str], width: str, repeats: int, threads: int, variant: Variant = SHIPPED
                   ) -> dict[str, Any]:
    """CPU render time per arch (weights do not change the cost, so a fresh network of the shipped shape)."""
    from common import cpu_model

    from genlens.gan.evaluate import render_ms

    out = {}
    for arch in archs:
        torch.manual_seed(0)
        G = variant.make_generator(model_config(arch, width)).eval()
        out[arch] = render_ms(G, threads=threads, repeats=repeats, warmup=max(3, repeats // 5)) | {"cpu": cpu_model()}
    return out


def run(args: argparse.Namespace, progress: Callable[[str], None] = log, *, variant: Variant = SHIPPED
        ) -> dict[str, Any]:
    """The comparison; ``variant``: injected parts every run uses instead of the shipped ones (experiments/)."""
    from genlens.utils.device import resolve_device

    t_start, wall0 = time.perf_counter(), gan_runs._wall()
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    env = environment(device)
    command = shlex.join(["python3", *shlex.split(args.script), *args.argv])
    n_runs = len(args.archs) * len(args.seeds)
    parallel = max(1, min(args.parallel, n_runs))
    base_job = {"width": args.width, "variant": variant, "batch": args.batch, "device": str(device),
                "threads": args.worker_threads,
                "data_dir": args.data_dir, "limit": args.limit, "fid_n": args.fid_n, "final_fid_n": args.final_fid_n,
                "coverage_n": args.coverage_n, "di_n": args.di_n, "ref_n": args.ref_n,
                "calib_warm": args.calib_warm, "calib_steps": args.calib_steps, "edits": args.edits,
                "curve_edits": args.curve_edits, "locator": args.locator,
                "png_dir": args.png_dir, "png_seed": args.seeds[0], "command": command,
                "deadline": wall0 + args.deadline_s if args.deadline_s else None, "resume": args.resume,
                "recompute_final": args.recompute_final,
                "pause_at": wall0 + args.pause_after_s if args.pause_after_s else None}
    calibration = None
    total_steps, bounds = _boundaries(args.kimg, args.batch, args.evals)
    with Runner(gan_runs.run_job, parallel) as runner:
        if args.budget_s:
            order = [(a, s) for s in args.seeds for a in args.archs][:parallel]  # every arch first
            progress(f"calibrating {len(order)} runs at once")
            calib = runner.map([base_job | {"mode": "calibrate", "arch": a, "seed": s} for a, s in order])
            left = args.budget_s - (time.perf_counter() - t_start) - TAIL_S
            args.kimg, calibration = choose_kimg(calib, args, seconds_left=left, waves=math.ceil(n_runs / parallel))
            calibration["seconds"] = round(time.perf_counter() - t_start, 1)
            total_steps, bounds = _boundaries(args.kimg, args.batch, args.evals)
            progress(f"budget {args.budget_s:g} s -> {args.kimg:g} kimg per run "
                     f"(slowest {calibration['slowest_images_per_s']:.0f} img/s)")
        progress(f"{n_runs} runs x {total_steps} steps of batch {args.batch} ({total_steps * args.batch / 1000:g} kimg)")
        jobs = [base_job | {"mode": "train", "arch": a, "seed": s, "total_steps": total_steps, "boundaries": bounds,
                            "run_dir": str(Path(args.run_root) / f"{a}-s{s}")} for a in args.archs for s in args.seeds]
        runs = runner.map(jobs)
    paused = [r for r in runs if r.get("paused")]
    if paused:
        done = len(runs) - len(paused)
        progress(f"paused: {done} of {len(runs)} runs finished; " + ", ".join(
            f"{r['arch']} seed {r['seed']} at {r['kimg']:g} of {r['total_steps'] * args.batch / 1000:g} kimg"
            for r in paused) + "; rerun the same command with --resume to continue")
        return {"benchmark": "gan", "partial": True, "runs": runs, "wall_seconds": time.perf_counter() - t_start}
    progress("render time on the CPU")
    render = measure_render(args.archs, args.width, args.render_repeats, args.render_threads, variant)
    summary, curves, compare_kimg = summarize(runs, args.archs)
    for arch in args.archs:
        summary[arch]["render_ms"] = render[arch]
    env["load_average_end"] = load_average()
    return {"benchmark": "gan", "schema": SCHEMA, "env": env, "command": command,
            "config": config_dict(args, total_steps, variant),
            "definitions": {"fid": "genlens-fmnist features, EMA generator, samples cropped 32->28 vs the test set",
                            "di": "E[D(held-out test image)] - E[D(G(z))] on raw logits, trained G (not EMA)",
                            "locator_editing_slope": "issue 27's editing measurement: least-squares slope (through the origin) "
                                             "of the object's displacement, found by the locator, against the "
                                             "level-1 heatmap's move, on real one-item test scenes' layouts; "
                                             "genlens.gan.evaluate.locator_editing (docs/spatial.md)",
                            "render_ms": f"median ms, one 32x32 image, fixed w, new heatmap, CPU, {args.render_threads} threads"},
            "calibration": calibration, "compare_kimg": compare_kimg, "summary": summary, "curves": curves,
            "targets": targets(summary, render, compare_kimg), "runs": runs,
            "wall_seconds": time.perf_counter() - t_start}


def config_dict(args: argparse.Namespace, total_steps: int, variant: Variant) -> dict[str, Any]:
    keys = ("archs", "seeds", "kimg", "batch", "evals", "width", "fid_n", "final_fid_n", "coverage_n", "di_n",
            "edits", "curve_edits", "locator", "limit", "ref_n", "render_threads", "device", "parallel", "budget_s",
            "deadline_s", "quick", "threads", "worker_threads")
    return {k: getattr(args, k) for k in keys} | {
        "total_steps": total_steps, "variant": variant.name,
        "model": {a: to_dict(model_config(a, args.width)) for a in args.archs}}


# --- table and plots ----------------------------------------------------------------------------------

def _fmt(stat: dict[str, Any] | None, spec: str = ".2f", scale: float = 1.0) -> str:
    if stat is None:
        return "n/a"
    seeds = " / ".join("n/a" if v is None else format(scale * v, spec) for v in stat["per_seed"])
    return f"{format(scale * stat['mean'], spec)} ({seeds})" if len(stat["per_seed"]) > 1 else seeds


def gan_table(result: dict[str, Any]) -> str:
    """Markdown: one row per arch (mean over seeds, per-seed values in brackets), then the targets."""
    s0 = next(iter(result["summary"].values()))
    rows = [f"| arch | kimg | FID ({s0['extractor']}, {s0['fid_n']}) | KID x1000 | DI | FID @ {result['compare_kimg']:g} "
            "kimg | smallest class | editing slope | render ms (CPU) | train img/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arch, s in result["summary"].items():
        rows.append(f"| {arch} | {min(s['kimg']):g} | {_fmt(s['fid'])} | {_fmt(s['kid'], '.2f', 1000)} | "
                    f"{_fmt(s['di'], '.3f')} | {_fmt(s['fid_at_compare'])} | "
                    f"{_fmt(s['coverage_min_fraction'], '.1f', 100)} % | {_fmt(s.get('locator_editing_slope'), '.3f')} | "
                    f"{s['render_ms']['median_ms']:.1f} | {_fmt(s['images_per_s'], '.0f')} |")
    env, cfg = result["env"], result["config"]
    where = env.get("gpu") or env["cpu"]
    lines = [f"- {k}: **{'met' if t['met'] else 'not met' if t['met'] is False else 'n/a'}** ({t['detail']})"
             for k, t in result["targets"].items()]
    note = (f"\nMean over seeds {cfg['seeds']} (per seed in brackets); batch {cfg['batch']}, width '{cfg['width']}', "
            f"{cfg['total_steps']} steps; {where}, torch {env['torch']}, {env['date'][:10]}. Targets:\n" + "\n".join(lines))
    if cfg.get("quick"):
        note += "\n\n**Quick smoke run: tiny networks, a few steps; not a measurement.**"
    return "\n".join(rows) + "\n" + note


def write_pngs(result: dict[str, Any], folder: str | Path) -> list[Path]:
    """FID, DI and (for runs that recorded it) the editing slope vs kimg (mean over seeds, thin lines per seed) as PNGs
    in ``folder``."""
    from genlens.report.gan_section import curves_png

    folder = Path(folder)
    keys = ["fid", "di"] + (["locator_editing_slope"] if any("locator_editing_slope_mean" in c for c in result["curves"].values())
                            else [])
    return [curves_png(result["curves"], key, folder / f"{key}_vs_kimg.png") for key in keys]


# --- command line -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None, *, script: str = "bench/gan.py", out: str = "bench/results/gan.json",
               description: str = __doc__) -> argparse.Namespace:
    """The benchmark's arguments; experiments reuse them with their own script name, result file and text."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", nargs="+", default=list(ARCHS), choices=ARCHS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--kimg", type=float, default=None, help="thousands of images per run (default 200)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 64)")
    p.add_argument("--evals", type=int, default=None, help="evaluation points per run (default 10)")
    p.add_argument("--width", choices=tuple(WIDTHS), default=None, help="network widths (default half)")
    p.add_argument("--fid-n", type=int, default=None, help="samples per curve FID (default 5000)")
    p.add_argument("--final-fid-n", type=int, default=None, help="samples for the final FID/KID (default 10000)")
    p.add_argument("--coverage-n", type=int, default=None, help="samples for class coverage (default 2000)")
    p.add_argument("--di-n", type=int, default=None, help="held-out reals and fakes for DI (default 1024)")
    p.add_argument("--edits", type=int, default=None, help="edits for the final editing measurement (default 500)")
    p.add_argument("--curve-edits", type=int, default=None,
                   help="edits for the editing slope at every evaluation point (default 100; 0 skips it)")
    p.add_argument("--locator", default="scenes-locator",
                   help="object locator for the editing measurement (a folder or the shipped scenes-locator)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--render-repeats", type=int, default=None, help="timed renders per arch (default 100)")
    p.add_argument("--render-threads", type=int, default=None, help="CPU threads for the render time (default 2)")
    p.add_argument("--ref-n", type=int, default=None, help="test images as the FID/KID reference (default all)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--parallel", type=int, default=1, help="runs at once, in spawned processes (one GPU is fine)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of this process")
    p.add_argument("--worker-threads", type=int, default=None, help="torch threads per run (default 1 CPU, 2 CUDA)")
    p.add_argument("--budget-s", type=float, default=None, help="choose --kimg from a calibration to fit this")
    p.add_argument("--deadline-s", type=float, default=None, help="stop runs at the next evaluation after this")
    p.add_argument("--pause-after-s", type=float, default=None,
                   help="stop every unfinished run at its next evaluation after this and exit without results; "
                        "--resume continues (long CPU runs spread over several sessions)")
    p.add_argument("--resume", action="store_true",
                   help="continue runs from their checkpoints and curves in --run-root (same settings required)")
    p.add_argument("--recompute-final", action="store_true",
                   help="with --resume: evaluate finished runs again instead of reusing their saved final metrics")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (else $GENLENS_DATA, ...)")
    p.add_argument("--run-root", default="out/bench-gan-runs", help="checkpoints (scratch; <arch>-s<seed> replaced)")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny nets, a few steps, CPU, < 60 s")
    p.add_argument("--out", default=out, help="result file")
    p.add_argument("--png-dir", default=None, help="curves and sample grids (default: next to --out, gan/)")
    args = p.parse_args(argv)
    args.argv, args.script = list(sys.argv[1:] if argv is None else argv), script
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k, None) is None:  # presets fill what was not given (calibration steps: presets only)
            setattr(args, k, v)
    if args.quick and args.device == "auto":
        args.device = "cpu"
    if args.worker_threads is None:
        from genlens.utils.device import resolve_device

        args.worker_threads = 2 if resolve_device(args.device).type == "cuda" else 1
    args.png_dir = args.png_dir or str(Path(args.out).with_suffix(""))
    if args.batch < 1 or args.evals < 1 or args.kimg <= 0:
        p.error("--batch, --evals and --kimg must be positive")
    return args


def main(argv: list[str] | None = None, *, variant: Variant = SHIPPED, **parse: str) -> int:
    """Run, write the result file and PNGs, print the table; ``parse``: see :func:`parse_args`."""
    args = parse_args(argv, **parse)
    stop_on_sigterm()
    if args.resume and args.budget_s:
        raise SystemExit("gan.py: --resume needs a fixed --kimg (--budget-s would choose a new one)")
    result = run(args, variant=variant)
    if result.get("partial"):
        return 0  # nothing to report yet; --out keeps its last complete result
    path = write_json(args.out, result)
    try:
        write_pngs(result, args.png_dir)
    except ImportError as exc:  # matplotlib missing: the JSON still holds every number
        log(f"no PNG curves ({exc})")
    print(gan_table(result))
    print(f"\nwrote {path} in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
