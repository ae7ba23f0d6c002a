"""One GAN benchmark run (arch x seed) in this process or a spawned worker: train in chunks, evaluate each
chunk, keep the progress beside the checkpoint so a paused or extended run resumes (bench/gan.py runs these).

A job is a plain dict (it crosses into spawned processes); ``job["variant"]`` is a :class:`Variant`, the
injected parts a run changes against the shipped recipe (experiments/gan_variants.py).
"""
from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import worker_barrier

from genlens.gan.networks import GanConfig, Generator
from genlens.gan.spatial import alignment_loss
from genlens.utils.config_io import to_dict

WIDTHS: dict[str, dict[str, Any]] = {
    "default": {},  # GanConfig defaults: G (256, 256, 128, 64), D (64, 128, 256, 256), SEL hidden 64
    "half": {"g_channels": (128, 128, 64, 32), "d_channels": (32, 64, 128, 128), "sel_hidden": 32},
    "tiny": {},  # GanConfig.tiny
}
FID_SEED = 12345  # the same latents for every arch and every evaluation point


@dataclass(frozen=True)
class Variant:
    """A run's injected parts (picklable: importable callables or ``functools.partial`` of them)."""

    name: str = "shipped"
    make_generator: Callable[[GanConfig], Generator] = Generator
    alignment: Callable[..., Any] = alignment_loss


SHIPPED = Variant()


def model_config(arch: str, width: str) -> GanConfig:
    return GanConfig.tiny(arch) if width == "tiny" else GanConfig(arch=arch, **WIDTHS[width])


def job_config(job: dict[str, Any], arch: str | None = None) -> GanConfig:
    return model_config(arch or job["arch"], job["width"])


def _injected(job: dict[str, Any]) -> dict[str, Any]:
    v = job["variant"]
    return {"make_generator": v.make_generator, "alignment": v.alignment}


def _wall() -> float:
    """Wall-clock seconds (the deadline and pause checks; tests replace it)."""
    return time.time()


def log(msg: str) -> None:
    print(f"[gan] {msg}", file=sys.stderr, flush=True)


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


def _editing_setup(job: dict[str, Any]) -> tuple[Any, Any, float]:
    """The locator (``job['locator']``, default the shipped scenes-locator), the real fashion-scenes test split at
    its canvas (the layouts the editing measurement edits) and its threshold, loaded once per worker."""
    if _CACHE.get("locator_key") != (job["locator"], job["data_dir"]):
        from genlens.metrics.editing import real_test_scenes
        from genlens.metrics.locator import load_locator, locator_threshold

        loc = load_locator(job["locator"], device=_CACHE["device"])
        scenes = real_test_scenes(loc, data_dir=job["data_dir"])
        _CACHE.update(locator_key=(job["locator"], job["data_dir"]),
                      editing=(loc, scenes, locator_threshold(job["locator"])))
    return _CACHE["editing"]


def locator_slope(G: Any, job: dict[str, Any], *, n: int, full: bool = False) -> Any:
    """The editing measurement of a heatmap generator (:func:`genlens.gan.evaluate.locator_editing`, seed
    FID_SEED + 3): the whole result with ``full``, else its slope alone (a curve point: no FID, few resamples)."""
    from genlens.gan.evaluate import locator_editing

    loc, scenes, threshold = _editing_setup(job)
    r = locator_editing(G, loc, scenes, name=job["arch"], n=n, seed=FID_SEED + 3, threshold=threshold,
                        resamples=1000 if full else 20, fid_resamples=200 if full else None)
    return r if full else r["slope"]["value"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_config(job: dict[str, Any], total_steps: int):
    from genlens.gan.train import GanTrainConfig

    return GanTrainConfig(total_steps=total_steps, batch_size=job["batch"], seed=job["seed"], device=job["device"],
                          di_samples=job["di_n"], checkpoint_every=0)


def calibrate_job(job: dict[str, Any]) -> dict[str, Any]:
    """Images/s of this run's real training step (after warm-up) and the time of one evaluation point."""
    from genlens.gan.evaluate import fid_kid
    from genlens.gan.train import measure_di, train_gan

    env = _setup(job)
    device = env["device"]
    worker_barrier()  # one calibration job per process, all timed at once (the real contention)
    stamps: list[float] = []
    cfg = job_config(job)
    warm, steps = job["calib_warm"], job["calib_steps"]
    run = train_gan(model_config=cfg, config=_train_config(job, warm + steps), data=env["train"],
                    callback=lambda r: stamps.append(time.perf_counter()), **_injected(job))
    ips = steps * job["batch"] / (stamps[-1] - stamps[warm - 1])
    t0 = time.perf_counter()
    fid_kid(run.G_ema, job["fid_n"], env["ref"], extractor=env["ext"], seed=FID_SEED, kid=False, device=str(device))
    measure_di(run.pair.G, run.pair.D, env["held_out"], n=job["di_n"], seed=0)
    _sync(device)
    return {"arch": job["arch"], "seed": job["seed"], "images_per_s": ips, "eval_s": time.perf_counter() - t0}


def train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train one arch x seed in ``job['evals']`` chunks, evaluating after each; final metrics at the end."""
    from genlens.gan.evaluate import class_coverage, fid_kid, generate
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
                        resume=step > 0, stop_at_step=end, callback=recs.append, **_injected(job))
        _sync(device)
        t1 = time.perf_counter()
        fid = fid_kid(run.G_ema, job["fid_n"], env["ref"], extractor=env["ext"], seed=FID_SEED, kid=False,
                      device=dev)["fid"]
        # The editing slope at every point as well (fewer edits): when G takes up or drops heatmap control.
        editing = (locator_slope(run.G_ema, job, n=job["curve_edits"])
                   if cfg.use_sel and job.get("curve_edits") else None)
        t2 = time.perf_counter()
        t_train, t_eval = t_train + (t1 - t0), t_eval + (t2 - t1)
        if recs:
            di, ips = recs[-1].get("di"), (run.step - step) * batch / (t1 - t0)
        else:  # killed after this chunk's checkpoint but before its curve point was saved: evaluate it now
            from genlens.gan.train import measure_di

            di = measure_di(run.pair.G, run.pair.D, env["held_out"], n=tcfg.di_samples, seed=tcfg.seed + 7919)
            ips = None
        point = {"step": run.step, "kimg": run.step * batch / 1000, "fid": fid.value, "di": di, "locator_editing_slope": editing,
                 "images_per_s": ips, "elapsed_s": round(t_train + t_eval, 2)}
        for key in ("loss_d", "loss_g", "d_real", "d_fake", "align", "r1"):
            vals = [r[key] for r in recs if key in r]
            if vals:
                point[key] = statistics.fmean(vals)
        curve.append(point)
        step = run.step
        save_progress(run_dir, job, step=step, curve=curve, train_seconds=t_train, eval_seconds=t_eval)
        speed = "" if ips is None else f"  {ips:.0f} img/s"
        edit = "" if editing is None else f"  editing slope {editing:.2f}"
        log(f"{arch} seed {seed}: {point['kimg']:g} kimg  FID {fid.value:.2f}  DI {point['di']:.3f}{edit}{speed}")
    t0 = time.perf_counter()
    # A finished run resumed again (e.g. a later session re-running the command) reuses its final metrics
    # when the step and the evaluation settings are the same: they cost minutes per run and do not change.
    key = {"step": step, **{k: job[k] for k in FINAL_KEYS}}
    cached = (saved or {}).get("final_cache")
    final = cached["final"] if cached and cached.get("key") == key and not job.get("recompute_final") else None
    grid = bool(job["png_dir"]) and seed == job["png_seed"]
    if (final is None or grid) and (run is None or run.step != step):
        # resumed past the last chunk: rebuild the models from the checkpoint
        run = train_gan(model_config=cfg, config=tcfg, data=env["train"], run_dir=run_dir, resume=True,
                        stop_at_step=step, **_injected(job))
    if final is None:
        G = run.G_ema
        fk = fid_kid(G, job["final_fid_n"], env["ref"], extractor=env["ext"], seed=FID_SEED + 1, device=dev,
                     kid_subset_size=min(1000, job["final_fid_n"]))
        coverage = class_coverage(G, job["coverage_n"], classifier=env["classifier"], seed=FID_SEED + 2, device=dev)
        editing = locator_slope(G, job, n=job["edits"], full=True) if cfg.use_sel else None
        final = {"fid": fk["fid"].to_dict(), "kid": fk["kid"].to_dict(), "coverage": coverage.to_dict(),
                 "locator_editing": editing}
        save_progress(run_dir, job, step=step, curve=curve, train_seconds=t_train, eval_seconds=t_eval,
                      final_cache={"key": key, "final": final})
    else:
        log(f"{arch} seed {seed}: final metrics at {step * batch / 1000:g} kimg reused from the last run")
    result = {"arch": arch, "seed": seed, "model": to_dict(cfg), "variant": job["variant"].name, "steps": step, "kimg": step * batch / 1000,
              "batch": batch, "stopped_early": stopped_early, "curve": curve,
              "final": {"fid": final["fid"], "kid": final["kid"], "di": curve[-1]["di"],
                        "coverage": final["coverage"], "locator_editing": final["locator_editing"]},
              "train_seconds": round(t_train, 2), "images_per_s": step * batch / max(t_train, 1e-9)}
    if grid:
        from genlens.utils.images import save_grid

        images = (generate(run.G_ema, 64, seed=0) + 1) / 2
        save_grid(images, Path(job["png_dir"]) / f"samples_{arch}.png", nrow=8, upscale=2)
    result["eval_seconds"] = round(t_eval + time.perf_counter() - t0, 2)
    return result


# What must match for --resume to continue a run's scratch folder (everything that shapes its curve).
PROGRESS_KEYS = ("arch", "seed", "width", "variant", "batch", "total_steps", "boundaries", "fid_n", "di_n", "limit",
                 "ref_n", "device")
PROGRESS_DEFAULTS = {"variant": "shipped"}  # keys added later, with the value runs had before them
PROGRESS_FILE = "bench_progress.json"
# A finished or paused run may be extended (--resume with a larger --kimg and the same chunk size): training
# has constant learning rates, so the longer run's curve starts with the shorter one's points.
EXTENDABLE = ("total_steps", "boundaries")
# Settings of the final evaluation: a finished run resumed with the same ones reuses its saved final metrics.
FINAL_KEYS = ("final_fid_n", "coverage_n", "edits", "locator")  # final metrics of older runs (the correlation) are redone


def _progress_key(job: dict[str, Any]) -> dict[str, Any]:
    return {k: job["variant"].name if k == "variant" else job[k] for k in PROGRESS_KEYS}


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


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    return calibrate_job(job) if job["mode"] == "calibrate" else train_job(job)
