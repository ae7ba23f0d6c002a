"""GAN benchmark (issue 5, "Targets"): StyleGAN2-style baseline vs +SEL vs EqGAN-SA at equal images seen.

For every arch x seed the same training (``genlens.gan.train.train_gan``: same data order, batch, number of
images) runs in chunks; after each chunk (every ``kimg / evals`` thousand images) we record FID of the EMA
generator (genlens-fmnist features, ``--fid-n`` samples vs the 10,000 test images) and the disequilibrium
indicator DI = E[D(held-out real)] - E[D(G(z))] on raw logits (``--di-n`` each), and for heatmap generators
the editing correlation on ``--curve-edit-latents`` latents (so the curve shows when G takes up or drops heatmap
control; ``editing_vs_kimg.png``). At the end: FID and KID
with ``--final-fid-n`` samples, class coverage of ``--coverage-n`` samples under the zoo CNN, the editing
correlation (heatmap-carrying archs only) and, per arch, the CPU time to render one image with a new heatmap.
Results are medians and means over seeds; ``targets`` says which of the issue's targets are met.

    .venv/bin/python bench/gan.py --quick                      # CPU smoke run (tiny nets, a few steps), < 60 s
    python3 bench/gan.py --device cuda --parallel 6 --budget-s 330 --ship-dir DIR   # scripts/train_gan_gpu.sh

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
import dataclasses
import json
import math
import os
import shlex
import shutil
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, load_average, write_json

from genlens.gan.networks import ARCHS, GanConfig

SCHEMA = 1
WIDTHS: dict[str, dict[str, Any]] = {
    "default": {},  # GanConfig defaults: G (256, 256, 128, 64), D (64, 128, 256, 256), SEL hidden 64
    "half": {"g_channels": (128, 128, 64, 32), "d_channels": (32, 64, 128, 128), "sel_hidden": 32},
    "tiny": {},  # GanConfig.tiny
}
FULL = {"kimg": 200.0, "batch": 64, "evals": 10, "fid_n": 5000, "final_fid_n": 10000, "coverage_n": 2000,
        "di_n": 1024, "edit_latents": 64, "curve_edit_latents": 32, "limit": None, "width": "half", "render_repeats": 100, "ref_n": None,
        "render_threads": 2, "calib_warm": 10, "calib_steps": 20}
QUICK = {"kimg": 0.128, "batch": 8, "evals": 2, "fid_n": 64, "final_fid_n": 128, "coverage_n": 200, "di_n": 32,
         "edit_latents": 4, "curve_edit_latents": 4, "limit": 512, "width": "tiny", "render_repeats": 10, "ref_n": 500, "render_threads": 1,
         "calib_warm": 2, "calib_steps": 4}
FID_SEED = 12345  # the same latents for every arch and every evaluation point
CHUNK_OVERHEAD_S = 2.0  # per evaluation point: rebuild, checkpoint load and save (a guess, generous on a GPU)
TAIL_S = 20.0  # after training: render times, JSON, PNGs


# heatmap-path options of the model (GanConfig fields), with the value runs had before each was added
HEAT_OPTIONS = {"heat_sigmas": "narrow", "heat_encoder": "mean", "sel_placement": "block"}
# training options of the same kind (GanTrainConfig fields)
TRAIN_OPTIONS = {"align_cam": "g-loss"}


def heat_options(source: dict[str, Any] | argparse.Namespace) -> dict[str, str]:
    """The heatmap-path options of a job dict or the parsed arguments (missing keys: their old value)."""
    return _options(source, HEAT_OPTIONS)


def train_options(source: dict[str, Any] | argparse.Namespace) -> dict[str, str]:
    return _options(source, TRAIN_OPTIONS)


def _options(source: dict[str, Any] | argparse.Namespace, defaults: dict[str, str]) -> dict[str, str]:
    get = source.get if isinstance(source, dict) else lambda k, d: getattr(source, k, d)
    return {k: get(k, d) for k, d in defaults.items()}


def model_config(arch: str, width: str, **heat: str) -> GanConfig:
    cfg = GanConfig.tiny(arch) if width == "tiny" else GanConfig(arch=arch, **WIDTHS[width])
    return dataclasses.replace(cfg, **heat)


def job_config(job: dict[str, Any], arch: str | None = None) -> GanConfig:
    """The model config of a job (keys added later default to what runs had before them)."""
    return model_config(arch or job["arch"], job["width"], **heat_options(job))


def _wall() -> float:
    """Wall-clock seconds (the deadline and pause checks; tests replace it)."""
    return time.time()


def log(msg: str) -> None:
    print(f"[gan] {msg}", file=sys.stderr, flush=True)


# --- one run, in this process or in a spawned worker --------------------------------------------------

_CACHE: dict[str, Any] = {}


def _setup(job: dict[str, Any]) -> dict[str, Any]:
    """Threads, cuDNN settings and the data of this process (loaded once per worker)."""
    from genlens.gan.data import fmnist_28, fmnist_32
    from genlens.gan.evaluate import reference
    from genlens.metrics.extractors import extractor_for
    from genlens.utils.device import resolve_device

    torch.set_num_threads(job["threads"])
    device = resolve_device(job["device"])
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    key = f"{job['data_dir']}|{job['limit']}|{device}|{job['di_n']}|{job['ref_n']}"
    if _CACHE.get("key") != key:
        import genlens

        ext = extractor_for("genlens-fmnist", device=str(device))
        _CACHE.update(
            key=key, device=device, ext=ext,
            train=fmnist_32("train", data_dir=job["data_dir"], limit=job["limit"]).to(device),
            held_out=fmnist_32("test", data_dir=job["data_dir"], limit=job["di_n"]).to(device),
            ref=reference(fmnist_28("test", data_dir=job["data_dir"], limit=job["ref_n"]), extractor=ext,
                          device=str(device)),
            classifier=genlens.load_model("fmnist-cnn", device=str(device)))
    return _CACHE


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_config(job: dict[str, Any], total_steps: int):
    from genlens.gan.train import GanTrainConfig

    return GanTrainConfig(total_steps=total_steps, batch_size=job["batch"], seed=job["seed"], device=job["device"],
                          **train_options(job),
                          di_samples=job["di_n"], checkpoint_every=0)


def calibrate_job(job: dict[str, Any]) -> dict[str, Any]:
    """Images/s of this run's real training step (after warm-up) and the time of one evaluation point."""
    from genlens.gan.evaluate import fid_kid
    from genlens.gan.train import measure_di, train_gan

    env = _setup(job)
    device = env["device"]
    if _BARRIER is not None:  # one calibration job per process, all timed at once (the real contention)
        _BARRIER.wait()
    stamps: list[float] = []
    cfg = job_config(job)
    warm, steps = job["calib_warm"], job["calib_steps"]
    run = train_gan(model_config=cfg, config=_train_config(job, warm + steps), data=env["train"],
                    callback=lambda r: stamps.append(time.perf_counter()))
    ips = steps * job["batch"] / (stamps[-1] - stamps[warm - 1])
    t0 = time.perf_counter()
    fid_kid(run.G_ema, job["fid_n"], env["ref"], extractor=env["ext"], seed=FID_SEED, kid=False, device=str(device))
    measure_di(run.pair.G, run.pair.D, env["held_out"], n=job["di_n"], seed=0)
    _sync(device)
    return {"arch": job["arch"], "seed": job["seed"], "images_per_s": ips, "eval_s": time.perf_counter() - t0}


def train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train one arch x seed in ``job['evals']`` chunks, evaluating after each; final metrics at the end."""
    from genlens.gan.evaluate import class_coverage, editing_correlation, fid_kid, generate
    from genlens.gan.train import train_gan

    env = _setup(job)
    device, dev = env["device"], str(env["device"])
    arch, seed, batch = job["arch"], job["seed"], job["batch"]
    cfg = job_config(job, arch)
    tcfg = _train_config(job, job["total_steps"])
    run_dir = Path(job["run_dir"])
    curve: list[dict[str, Any]] = []
    t_train = t_eval = 0.0
    step, run, stopped_early = 0, None, False
    saved = load_progress(run_dir, job) if job.get("resume") else None
    if saved is not None:
        curve, t_train, t_eval, step = saved["curve"], saved["train_seconds"], saved["eval_seconds"], saved["step"]
        log(f"{arch} seed {seed}: resuming at {step * batch / 1000:g} kimg ({len(curve)} evaluation points done)")
    elif run_dir.exists():
        shutil.rmtree(run_dir)  # this benchmark's own scratch folder from an earlier run
    for end in job["boundaries"]:
        if end <= step:
            continue
        if job.get("pause_at") is not None and _wall() > job["pause_at"]:
            log(f"{arch} seed {seed}: pausing at {step * batch / 1000:g} kimg; rerun with --resume to continue")
            return {"arch": arch, "seed": seed, "paused": True, "steps": step, "kimg": step * batch / 1000,
                    "total_steps": job["total_steps"]}
        if job["deadline"] is not None and step > 0 and _wall() > job["deadline"]:
            stopped_early = True
            log(f"{arch} seed {seed}: deadline reached at {step * batch / 1000:g} kimg, stopping here")
            break
        recs: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        run = train_gan(model_config=cfg, config=tcfg, data=env["train"], held_out=env["held_out"], run_dir=run_dir,
                        resume=step > 0, stop_at_step=end, callback=recs.append)
        _sync(device)
        t1 = time.perf_counter()
        fid = fid_kid(run.G_ema, job["fid_n"], env["ref"], extractor=env["ext"], seed=FID_SEED, kid=False,
                      device=dev)["fid"]
        # Editing r at every point as well (cheaper, fewer latents): when G takes up or drops heatmap control.
        editing = (editing_correlation(run.G_ema, latents_n=job["curve_edit_latents"], seed=FID_SEED + 3)["correlation"]
                   if cfg.use_sel and job.get("curve_edit_latents") else None)
        t2 = time.perf_counter()
        t_train, t_eval = t_train + (t1 - t0), t_eval + (t2 - t1)
        if recs:
            di, ips = recs[-1].get("di"), (run.step - step) * batch / (t1 - t0)
        else:  # killed after this chunk's checkpoint but before its curve point was saved: evaluate it now
            from genlens.gan.train import measure_di

            di = measure_di(run.pair.G, run.pair.D, env["held_out"], n=tcfg.di_samples, seed=tcfg.seed + 7919)
            ips = None
        point = {"step": run.step, "kimg": run.step * batch / 1000, "fid": fid.value, "di": di, "editing": editing,
                 "images_per_s": ips, "elapsed_s": round(t_train + t_eval, 2)}
        for key in ("loss_d", "loss_g", "d_real", "d_fake", "align", "r1"):
            vals = [r[key] for r in recs if key in r]
            if vals:
                point[key] = statistics.fmean(vals)
        curve.append(point)
        step = run.step
        save_progress(run_dir, job, step=step, curve=curve, train_seconds=t_train, eval_seconds=t_eval)
        speed = "" if ips is None else f"  {ips:.0f} img/s"
        edit = "" if editing is None else f"  editing r {editing:.2f}"
        log(f"{arch} seed {seed}: {point['kimg']:g} kimg  FID {fid.value:.2f}  DI {point['di']:.3f}{edit}{speed}")
    t0 = time.perf_counter()
    # A finished run resumed again (e.g. a later session re-running the command) reuses its final metrics
    # when the step and the evaluation settings are the same: they cost minutes per run and do not change.
    key = {"step": step, **{k: job[k] for k in FINAL_KEYS}}
    cached = (saved or {}).get("final_cache")
    final = cached["final"] if cached and cached.get("key") == key and not job.get("recompute_final") else None
    shipping = bool(job["png_dir"] or job["ship_dir"]) and seed == job["ship_seed"]
    if (final is None or shipping) and (run is None or run.step != step):
        # resumed past the last chunk: rebuild the models from the checkpoint
        run = train_gan(model_config=cfg, config=tcfg, data=env["train"], run_dir=run_dir, resume=True,
                        stop_at_step=step)
    if final is None:
        G = run.G_ema
        fk = fid_kid(G, job["final_fid_n"], env["ref"], extractor=env["ext"], seed=FID_SEED + 1, device=dev,
                     kid_subset_size=min(1000, job["final_fid_n"]))
        coverage = class_coverage(G, job["coverage_n"], classifier=env["classifier"], seed=FID_SEED + 2, device=dev)
        editing = editing_correlation(G, latents_n=job["edit_latents"], seed=FID_SEED + 3) if cfg.use_sel else None
        final = {"fid": fk["fid"].to_dict(), "kid": fk["kid"].to_dict(), "coverage": coverage.to_dict(),
                 "editing": editing}
        save_progress(run_dir, job, step=step, curve=curve, train_seconds=t_train, eval_seconds=t_eval,
                      final_cache={"key": key, "final": final})
    else:
        log(f"{arch} seed {seed}: final metrics at {step * batch / 1000:g} kimg reused from the last run")
    result = {"arch": arch, "seed": seed, "model": dataclasses.asdict(cfg), "steps": step, "kimg": step * batch / 1000,
              "batch": batch, "stopped_early": stopped_early, "curve": curve,
              "final": {"fid": final["fid"], "kid": final["kid"], "di": curve[-1]["di"],
                        "coverage": final["coverage"], "editing": final["editing"]},
              "train_seconds": round(t_train, 2), "images_per_s": step * batch / max(t_train, 1e-9)}
    if job["png_dir"] and seed == job["ship_seed"]:
        from genlens.utils.images import save_grid

        grid = (generate(run.G_ema, 64, seed=0) + 1) / 2
        save_grid(grid, Path(job["png_dir"]) / f"samples_{arch}.png", nrow=8, upscale=2)
    if job["ship_dir"] and seed == job["ship_seed"]:
        from genlens.gan.discriminator import save_discriminator
        from genlens.gan.io import save_generator, shipped_gan_folder

        metrics = {k: result[k] for k in ("kimg", "steps", "batch", "train_seconds", "images_per_s")}
        metrics |= {"seed": seed, "device": dev, **result["final"],
                    "fid_curve": [[p["kimg"], p["fid"]] for p in curve], "di_curve": [[p["kimg"], p["di"]] for p in curve],
                    "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
        folder = Path(job["ship_dir"]) / shipped_gan_folder(arch).name
        save_generator(folder, run.G_ema, command=job["command"], metrics=metrics, train=tcfg.identity())
        save_discriminator(folder, run.pair.D)  # for D's CAM in the tour and DI without the run dir
        result["shipped"] = str(folder)
    result["eval_seconds"] = round(t_eval + time.perf_counter() - t0, 2)
    return result


# What must match for --resume to continue a run's scratch folder (everything that shapes its curve).
PROGRESS_KEYS = ("arch", "seed", "width", "heat_sigmas", "heat_encoder", "sel_placement", "align_cam", "batch", "total_steps", "boundaries", "fid_n", "di_n", "limit", "ref_n",
                 "device")
PROGRESS_DEFAULTS = HEAT_OPTIONS | TRAIN_OPTIONS  # keys added later, with the value runs had before them
PROGRESS_FILE = "bench_progress.json"
# A finished or paused run may be extended (--resume with a larger --kimg and the same chunk size): training
# has constant learning rates, so the longer run's curve starts with the shorter one's points.
EXTENDABLE = ("total_steps", "boundaries")
# Settings of the final evaluation: a finished run resumed with the same ones reuses its saved final metrics.
FINAL_KEYS = ("final_fid_n", "coverage_n", "edit_latents")


def _progress_key(job: dict[str, Any]) -> dict[str, Any]:
    return {k: job.get(k, PROGRESS_DEFAULTS.get(k)) if k in PROGRESS_DEFAULTS else job[k] for k in PROGRESS_KEYS}


def save_progress(run_dir: Path, job: dict[str, Any], **state: Any) -> None:
    """The curve so far, beside the checkpoint that train_gan has just written for the same step."""
    from genlens.utils.io import atomic_write_json

    atomic_write_json(run_dir / PROGRESS_FILE, {"job": _progress_key(job), **state})


def load_progress(run_dir: Path, job: dict[str, Any]) -> dict[str, Any] | None:
    """The saved progress of this run, or None when there is none; a run made with other settings is an error."""
    from genlens.errors import GenlensError
    from genlens.utils.io import read_json

    path = run_dir / PROGRESS_FILE
    if not path.is_file():
        return None
    saved = read_json(path)
    want = json.loads(json.dumps(_progress_key(job)))  # tuples -> lists, as stored
    diff = sorted(k for k in PROGRESS_KEYS
                  if k not in EXTENDABLE and saved["job"].get(k, PROGRESS_DEFAULTS.get(k)) != want[k])
    old_bounds = saved["job"].get("boundaries") or []
    if old_bounds != want["boundaries"][:len(old_bounds)]:  # extending keeps every earlier evaluation point
        diff += ["boundaries (a longer run must keep the earlier evaluation points: same --batch, "
                 "--kimg / --evals per chunk)"]
    if diff:
        raise GenlensError(f"--resume: {run_dir} was started with other settings ({', '.join(diff)} differ); "
                           "rerun with the original options or drop --resume to start over")
    return saved


_BARRIER: Any = None  # set in spawned workers: calibration jobs start timing together


def _init_worker(barrier: Any, parent: int) -> None:
    global _BARRIER
    _BARRIER = barrier
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int, poll_s: float = 2.0) -> None:
    """A spawned worker quits when the benchmark process is gone (killed with SIGKILL, say), instead of
    training on unseen; the run's last checkpoint stays for ``--resume``."""
    while os.getppid() == parent:  # the parent's pid, passed in: it may die before this worker starts
        time.sleep(poll_s)
    os._exit(1)


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, ``pkill``, a CI timeout) unwinds like Ctrl-C, so :class:`Runner` stops its workers."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    return calibrate_job(job) if job["mode"] == "calibrate" else train_job(job)


class Runner:
    """Runs jobs in this process (``parallel`` <= 1) or in ``parallel`` spawned processes (CUDA needs spawn)
    that live for the whole benchmark, so imports, CUDA start-up and the data are paid once per process."""

    def __init__(self, parallel: int) -> None:
        self.pool = None
        if parallel > 1:
            ctx = get_context("spawn")
            self.pool = ProcessPoolExecutor(max_workers=parallel, mp_context=ctx, initializer=_init_worker,
                                            initargs=(ctx.Barrier(parallel, timeout=900), os.getpid()))

    def map(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [run_job(j) for j in jobs] if self.pool is None else list(self.pool.map(run_job, jobs))

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self.pool is None:
            return
        if exc_type is None:
            self.pool.shutdown()
            return
        # interrupted or failed: the workers' runs are mid-training, so stop them now rather than wait
        # (each run resumes from its last checkpoint with --resume)
        workers = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.join(timeout=10)


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
        ed = [r["final"]["editing"] for r in rs]
        summary[arch] = {
            "seeds": [r["seed"] for r in rs], "kimg": [r["kimg"] for r in rs],
            "fid": _stats([r["final"]["fid"]["value"] for r in rs]),
            "kid": _stats([r["final"]["kid"]["value"] for r in rs]),
            "di": _stats([r["final"]["di"] for r in rs]),
            "fid_at_compare": _stats([p["fid"] for p in at]), "di_at_compare": _stats([p["di"] for p in at]),
            "coverage_min_fraction": _stats([r["final"]["coverage"]["min_fraction"] for r in rs]),
            "coverage_min_class": [r["final"]["coverage"]["min_class"] for r in rs],
            "coverage_kl": _stats([r["final"]["coverage"]["kl_to_uniform"] for r in rs]),
            "editing_correlation": _stats([e["correlation"] if e else None for e in ed]),
            "editing_slope": _stats([e["slope"] if e else None for e in ed]),
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
        # Editing r per point: only runs made since bench/gan.py records it, and only SEL generators.
        if all(p.get("editing") is not None for r in rs for p in r["curve"]):
            curves[arch]["editing_mean"] = [mean_at("editing", k) for k in shared]
            for r in rs:
                curves[arch]["per_seed"][str(r["seed"])]["editing"] = [p["editing"] for p in r["curve"]]
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
    if eq and eq["editing_correlation"]:
        r = eq["editing_correlation"]["mean"]
        out["editing_correlation_0.8"] = {"met": r >= 0.8, "detail": f"eqgan-sa mean r = {r:.3f}"}
    else:
        out["editing_correlation_0.8"] = {"met": None, "detail": "needs eqgan-sa"}
    if "eqgan-sa" in render:
        ms = render["eqgan-sa"]["median_ms"]
        out["render_10ms"] = {"met": ms <= 10.0, "detail": f"eqgan-sa {ms:.2f} ms on {render['eqgan-sa']['threads']} "
                              f"threads of {render['eqgan-sa']['cpu']}"}
    return out


def measure_render(archs: list[str], width: str, repeats: int, threads: int, **heat: str) -> dict[str, Any]:
    """CPU render time per arch (weights do not change the cost, so a fresh network of the shipped shape)."""
    from common import cpu_model

    from genlens.gan.evaluate import render_ms
    from genlens.gan.networks import Generator

    out = {}
    for arch in archs:
        torch.manual_seed(0)
        out[arch] = render_ms(Generator(model_config(arch, width, **heat)).eval(), threads=threads, repeats=repeats,
                              warmup=max(3, repeats // 5)) | {"cpu": cpu_model()}
    return out


def _patch_manifests(runs: list[dict[str, Any]], render: dict[str, Any]) -> None:
    """Add the render time to the shipped folders' manifest metrics (the weights' sha256 is unchanged)."""
    from genlens.utils.io import atomic_write_json, read_json

    for r in runs:
        if r.get("shipped"):
            path = Path(r["shipped"]) / "manifest.json"
            manifest = read_json(path)
            manifest["metrics"]["render_ms"] = render.get(r["arch"])
            atomic_write_json(path, manifest)


def run(args: argparse.Namespace, progress: Callable[[str], None] = log) -> dict[str, Any]:
    from genlens.utils.device import resolve_device

    t_start, wall0 = time.perf_counter(), _wall()
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    env = environment(device)
    command = shlex.join(["python3", "bench/gan.py", *args.argv])
    n_runs = len(args.archs) * len(args.seeds)
    parallel = max(1, min(args.parallel, n_runs))
    base_job = {"width": args.width, **heat_options(args), **train_options(args), "batch": args.batch, "device": str(device), "threads": args.worker_threads,
                "data_dir": args.data_dir, "limit": args.limit, "fid_n": args.fid_n, "final_fid_n": args.final_fid_n,
                "coverage_n": args.coverage_n, "di_n": args.di_n, "ref_n": args.ref_n,
                "calib_warm": args.calib_warm, "calib_steps": args.calib_steps, "edit_latents": args.edit_latents,
                "curve_edit_latents": args.curve_edit_latents,
                "png_dir": args.png_dir, "ship_dir": args.ship_dir, "ship_seed": args.seeds[0], "command": command,
                "deadline": wall0 + args.deadline_s if args.deadline_s else None, "resume": args.resume,
                "recompute_final": args.recompute_final,
                "pause_at": wall0 + args.pause_after_s if args.pause_after_s else None}
    calibration = None
    total_steps, bounds = _boundaries(args.kimg, args.batch, args.evals)
    with Runner(parallel) as runner:
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
    render = measure_render(args.archs, args.width, args.render_repeats, args.render_threads, **heat_options(args))
    _patch_manifests(runs, render)
    summary, curves, compare_kimg = summarize(runs, args.archs)
    for arch in args.archs:
        summary[arch]["render_ms"] = render[arch]
    env["load_average_end"] = load_average()
    return {"benchmark": "gan", "schema": SCHEMA, "env": env, "config": config_dict(args, total_steps),
            "definitions": {"fid": "genlens-fmnist features, EMA generator, samples cropped 32->28 vs the test set",
                            "di": "E[D(held-out test image)] - E[D(G(z))] on raw logits, trained G (not EMA)",
                            "editing": "Pearson r between level-1 heatmap shift d and the content displacement (centre of "
                                       "mass of the brightening minus that of the darkening), x and y pooled; "
                                       "genlens.gan.evaluate.editing_correlation",
                            "render_ms": f"median ms, one 32x32 image, fixed w, new heatmap, CPU, {args.render_threads} threads"},
            "calibration": calibration, "compare_kimg": compare_kimg, "summary": summary, "curves": curves,
            "targets": targets(summary, render, compare_kimg), "runs": runs,
            "wall_seconds": time.perf_counter() - t_start}


def config_dict(args: argparse.Namespace, total_steps: int) -> dict[str, Any]:
    keys = ("archs", "seeds", "kimg", "batch", "evals", "width", *HEAT_OPTIONS, *TRAIN_OPTIONS, "fid_n", "final_fid_n", "coverage_n", "di_n",
            "edit_latents", "curve_edit_latents", "limit", "ref_n", "render_threads", "device", "parallel", "budget_s", "deadline_s", "quick", "threads",
            "worker_threads")
    return {k: getattr(args, k) for k in keys} | {"total_steps": total_steps,
                                                   "model": {a: dataclasses.asdict(model_config(a, args.width, **heat_options(args)))
                                                             for a in args.archs}}


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
            "kimg | smallest class | editing r | render ms (CPU) | train img/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arch, s in result["summary"].items():
        rows.append(f"| {arch} | {min(s['kimg']):g} | {_fmt(s['fid'])} | {_fmt(s['kid'], '.2f', 1000)} | "
                    f"{_fmt(s['di'], '.3f')} | {_fmt(s['fid_at_compare'])} | "
                    f"{_fmt(s['coverage_min_fraction'], '.1f', 100)} % | {_fmt(s['editing_correlation'], '.3f')} | "
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
    """FID, DI and (for runs that recorded it) editing r vs kimg (mean over seeds, thin lines per seed) as PNGs
    in ``folder``."""
    from genlens.report.gan_section import curves_png

    folder = Path(folder)
    keys = ["fid", "di"] + (["editing"] if any("editing_mean" in c for c in result["curves"].values()) else [])
    return [curves_png(result["curves"], key, folder / f"{key}_vs_kimg.png") for key in keys]


# --- command line -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", nargs="+", default=list(ARCHS), choices=ARCHS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--kimg", type=float, default=None, help="thousands of images per run (default 200)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 64)")
    p.add_argument("--evals", type=int, default=None, help="evaluation points per run (default 10)")
    p.add_argument("--width", choices=tuple(WIDTHS), default=None, help="network widths (default half)")
    p.add_argument("--heat-sigmas", choices=("narrow", "official"), default="narrow",
                   help="heatmap sigma ranges of levels 2/3 (genlens.gan.spatial.SIGMA_RANGES; default narrow)")
    p.add_argument("--heat-encoder", choices=("mean", "conv"), default="mean",
                   help="heatmaps into the SELs: each level's mean map, or the official per-centre conv encoder")
    p.add_argument("--align-cam", choices=("g-loss", "real"), default="g-loss",
                   help="whose Grad-CAM the alignment ties to the heatmap: G's loss (the official code) or D's logit")
    p.add_argument("--sel-placement", choices=("block", "layer"), default="block",
                   help="SELs in G: one per block (block) or the official code's, before every conv and to-RGB (layer)")
    p.add_argument("--fid-n", type=int, default=None, help="samples per curve FID (default 5000)")
    p.add_argument("--final-fid-n", type=int, default=None, help="samples for the final FID/KID (default 10000)")
    p.add_argument("--coverage-n", type=int, default=None, help="samples for class coverage (default 2000)")
    p.add_argument("--di-n", type=int, default=None, help="held-out reals and fakes for DI (default 1024)")
    p.add_argument("--edit-latents", type=int, default=None, help="latents for the editing score (default 64)")
    p.add_argument("--curve-edit-latents", type=int, default=None,
                   help="latents for the editing r at every evaluation point (default 32; 0 skips it)")
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
    p.add_argument("--calib-warm", type=int, default=None, help="calibration warm-up steps (default 10)")
    p.add_argument("--calib-steps", type=int, default=None, help="calibration timed steps (default 20)")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (else $GENLENS_DATA, ...)")
    p.add_argument("--run-root", default="out/bench-gan-runs", help="checkpoints (scratch; <arch>-s<seed> replaced)")
    p.add_argument("--ship-dir", default=None, help="save seed 0's EMA generators as DIR/<shipped name> model folders (fmnist-gan, fmnist-sel-only, fmnist-eqgan)")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny nets, a few steps, CPU, < 60 s")
    p.add_argument("--out", default="bench/results/gan.json", help="result file")
    p.add_argument("--png-dir", default=None, help="curves and sample grids (default: next to --out, gan/)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k) is None:
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _stop_on_sigterm()
    if args.resume and args.budget_s:
        raise SystemExit("gan.py: --resume needs a fixed --kimg (--budget-s would choose a new one)")
    result = run(args)
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
