"""Diffusion: our DDPM against denoising-diffusion-pytorch at the same wall-clock budget, and our training
step's throughput against a plain diffusers step.

Two parts (``--parts``):

* ``peer``: on the same Fashion-MNIST training images (60,000, padded 28 -> 32), train our unconditional
  denoiser (``--cond none`` of ``genlens diffusion train``: ``train_diffusion``, ε-prediction, linear β, AdamW,
  cosine LR with warm-up, EMA 0.999) and the peer (PyPI ``denoising-diffusion-pytorch``: ``Unet`` +
  ``GaussianDiffusion`` with its defaults, its Trainer's optimiser and EMA; see ``bench/ddpm_peer.py``) for
  the same ``--budget-s`` seconds each, one after the other, with the same batch and threads. The peer
  ``Unet`` width is chosen so that its parameter count is the closest to ours (both counts are reported).
  Our step count is set from a short timed calibration so that the LR schedule ends at the budget; a guard
  stops our run at the budget too. Both sample ``--n-fid`` images with DDIM, ``--sampling-steps`` steps
  (eta 0) from their EMA weights; FID and KID under ``genlens-fmnist`` features against the 10,000 test
  images (``genlens.diffusion.evaluate.Reference``). For scale, the FID of ``--n-fid`` real training images
  against the same test set (the floor at that N) and the FID between the two halves of the test set.
* ``throughput``: training images/s of our loop (``train_diffusion``: the shared Accelerate loop with
  gradient clipping, LR schedule and EMA) against a minimal diffusers step (``UNet2DModel`` from the same
  config, ``DDPMScheduler.add_noise``, MSE, AdamW; no EMA), same batch and threads. Windows of
  ``--window`` steps alternate between the two inside one training run (plain, ours, plain, ..., plain: the
  plain windows run from our loop's step callback, their time excluded from ours), so outside load hits
  both alike; medians over ``--repeats`` windows of ours (one more of plain), and the median of each of our
  windows over the mean of the two plain windows around it (``ratio_paired_median``). The per-step cost of what ours adds (EMA update, gradient clipping) is timed on
  its own to explain the ratio.

    .venv/bin/python bench/diffusion.py                                  # ~1 h on 2 CPU cores
    .venv/bin/python bench/diffusion.py --parts throughput --threads 1   # ~2 min
    .venv/bin/python bench/diffusion.py --quick --out /tmp/diffusion.json   # smoke run, < 60 s

The peer needs ``pip install denoising-diffusion-pytorch`` (pulls einops, ema-pytorch, pytorch-fid; keeps
torch); without it the peer part is skipped with a note in the result.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import InterleavedWindows, environment, load_average, summarize, time_calls, write_json
from ddpm_peer import (
    PEER_PACKAGE,
    PEER_TRAINER,
    PlainDiffusersStep,
    build_peer,
    param_count,
    peer_available,
    peer_dim_for,
    peer_version,
    sample_peer,
    train_peer,
)

from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, sample, to_model_space, train_diffusion
from genlens.training import EMA
from genlens.utils.config_io import to_dict

SCHEMA = 1
PARTS = ("peer", "throughput")
EXTRACTOR = "genlens-fmnist"
Progress = Callable[[str], None]


class _BudgetSpent(KeyboardInterrupt):
    """Raised from our training callback at the budget: the loop saves a checkpoint (with the EMA) and stops."""


def our_config(args: argparse.Namespace, cond: str, steps: int) -> DiffusionTrainConfig:
    """What ``genlens diffusion train --cond COND --size SIZE --steps STEPS --batch BATCH`` trains."""
    unet = UNetConfig.preset(args.size, cond)
    return DiffusionTrainConfig(unet=unet, steps=steps, batch_size=args.batch, seed=args.seed,
                                warmup_steps=min(500, max(1, steps // 10)))


# ------------------------------------------------------------------ FID / KID
def score(reference, images01: torch.Tensor) -> dict[str, Any]:
    """FID and KID of ``images01`` against the test-set ``reference`` (genlens.diffusion.evaluate.Reference)."""
    feats = reference.extractor.features(images01)
    fid, kid = reference.fid(feats), reference.kid(feats)
    return {"fid": fid.value, "kid": kid.value, "kid_std": kid.std}


# ------------------------------------------------------------------ part 1: same budget as the peer
def _seconds_per_step(args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Median seconds per step of our loop over a short calibration run (first step excluded)."""
    stamps: list[float] = []
    steps = args.calibration_steps
    train_diffusion(images, labels, config=our_config(args, "none", steps), device="cpu",
                    callback=lambda _r: stamps.append(time.perf_counter()))
    diffs = [b - a for a, b in itertools.pairwise(stamps)]
    return statistics.median(diffs) if diffs else float("inf")


def train_ours(args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor,
               progress: Progress) -> tuple[Denoiser, DiffusionTrainConfig, dict[str, Any]]:
    """Our unconditional model trained for about ``args.budget_s`` seconds; returns the EMA weights."""
    from safetensors.torch import load_model

    from genlens.training.checkpoint import EMA_FILE, find_checkpoint

    per_step = _seconds_per_step(args, images, labels)
    steps = max(2, int(args.budget_s / per_step))
    config = our_config(args, "none", steps)
    progress(f"ours: {per_step:.2f} s/step calibrated -> {steps} steps in {args.budget_s:.0f} s")
    done = {"step": 0, "loss": float("nan"), "end": 0.0}
    start = time.perf_counter()

    def guard(record: dict[str, Any]) -> None:
        done.update(step=record["step"], loss=record["loss"], end=time.perf_counter())
        if record["step"] % 50 == 0:
            progress(f"ours: step {record['step']}/{steps} loss {record['loss']:.4f}")
        if done["end"] - start >= args.budget_s and record["step"] < steps:
            raise _BudgetSpent

    stopped = False
    with tempfile.TemporaryDirectory(prefix="genlens-bench-diffusion-") as run_dir:
        try:
            model = train_diffusion(images, labels, config=config, device="cpu", run_dir=run_dir,
                                    callback=guard).model
        except _BudgetSpent:  # the loop saved run_dir/last (EMA included) before re-raising
            stopped = True
            model = Denoiser(config.unet)
            load_model(model, str(find_checkpoint(run_dir) / EMA_FILE))
    model.eval().requires_grad_(False)
    seconds = done["end"] - start
    facts = {"params": param_count(model), "planned_steps": steps, "steps": done["step"],
             "stopped_by_budget_guard": stopped, "images_seen": done["step"] * args.batch,
             "train_seconds": seconds, "train_images_per_s": done["step"] * args.batch / max(seconds, 1e-9),
             "final_loss": done["loss"], "calibrated_s_per_step": per_step,
             "config": to_dict(config)}
    return model, config, facts


def sample_ours(model: Denoiser, config: DiffusionTrainConfig, n: int, *, steps: int, batch: int,
                seed: int) -> torch.Tensor:
    out = []
    for i, start in enumerate(range(0, n, batch)):
        g = torch.Generator().manual_seed(seed + i)
        out.append(sample(model, None, n=min(batch, n - start), sampler="ddim", steps=steps, guidance=None,
                          schedule=config.schedule, generator=g))
    return torch.cat(out)


def run_peer_part(args: argparse.Namespace, train, test, png_dir: Path, progress: Progress) -> dict[str, Any]:
    from genlens.utils.images import save_grid

    if not peer_available():
        return {"status": "skipped", "reason": f"{PEER_PACKAGE} is not installed: "
                f".venv/bin/pip install {PEER_PACKAGE}"}
    from genlens.diffusion.evaluate import Reference, real_reference

    images, labels = train.images, train.labels
    progress(f"FID reference: {len(test)} test images")
    test01 = test.images.float() / 255.0
    ref = Reference.build(test01, extractor=EXTRACTOR)
    g = torch.Generator().manual_seed(args.seed)
    real = train.images[torch.randperm(len(train), generator=g)[: args.n_fid]].float() / 255.0
    floor = real_reference(ref, test01, n=args.n_fid, other_images01=real, seed=args.seed)

    sides: dict[str, dict[str, Any]] = {}
    model, config, sides["ours"] = train_ours(args, images, labels, progress)
    t0 = time.perf_counter()
    fake = sample_ours(model, config, args.n_fid, steps=args.sampling_steps, batch=args.sample_batch, seed=args.seed)
    sides["ours"].update(sample_seconds=time.perf_counter() - t0, **score(ref, fake),
                         sampler=f"DDIM {args.sampling_steps} steps, eta 0 (diffusers DDIMScheduler)")
    save_grid(fake[:64], png_dir / "ours.png", nrow=8, upscale=2)

    dim, _ = peer_dim_for(sides["ours"]["params"])
    peer = build_peer(dim, sampling_steps=args.sampling_steps, seed=args.seed)
    progress(f"peer: Unet(dim={dim}, dim_mults=(1, 2, 4)), {param_count(peer)} parameters, {args.budget_s:.0f} s")

    def peer_progress(rec: dict[str, Any]) -> None:
        if rec["step"] % 50 == 0:
            progress(f"peer: step {rec['step']} loss {rec['loss']:.4f} at {rec['elapsed']:.0f} s")

    run = train_peer(peer, images, batch=args.batch, budget_s=args.budget_s, seed=args.seed, progress=peer_progress)
    t0 = time.perf_counter()
    fake = sample_peer(run.ema_model, args.n_fid, batch=args.sample_batch, seed=args.seed)
    sides["peer"] = {"package": f"{PEER_PACKAGE} {peer_version()}", "params": param_count(run.ema_model.model),
                     "unet": {"dim": dim, "dim_mults": [1, 2, 4], "channels": 1},
                     "diffusion": {"objective": run.ema_model.objective, "timesteps": run.ema_model.num_timesteps,
                                   "sampling_timesteps": run.ema_model.sampling_timesteps},
                     "trainer": {**PEER_TRAINER, "batch": args.batch},
                     "steps": run.steps, "images_seen": run.images_seen, "train_seconds": run.train_seconds,
                     "train_images_per_s": run.images_seen / max(run.train_seconds, 1e-9),
                     "final_loss": run.losses[-1] if run.losses else float("nan"),
                     "sample_seconds": time.perf_counter() - t0, **score(ref, fake),
                     "sampler": f"DDIM {args.sampling_steps} steps, eta 0 (GaussianDiffusion.ddim_sample)"}
    save_grid(fake[:64], png_dir / "peer.png", nrow=8, upscale=2)
    ours, other = sides["ours"], sides["peer"]
    return {"status": "ok", "budget_s": args.budget_s, "extractor": EXTRACTOR, "n_fake": args.n_fid,
            "n_real": len(test), "reference": "Fashion-MNIST test set",
            "fid_real_train_vs_test": floor["fid_real_n"]["value"],
            "fid_test_halves": floor["fid_test_halves"]["value"], "ours": ours, "peer": other,
            "fid_ratio_ours_over_peer": ours["fid"] / other["fid"],
            "pngs": {"ours": str(png_dir / "ours.png"), "peer": str(png_dir / "peer.png")}}


# ------------------------------------------------------------------ part 2: throughput
def _per_call(fn: Callable[[], Any], reps: int) -> float:
    """Median seconds of one call of ``fn`` over ``reps`` calls."""
    cpu = torch.device("cpu")
    return statistics.median(time_calls(fn, 1, cpu) for _ in range(reps))


def overheads(plain: PlainDiffusersStep, images: torch.Tensor, *, reps: int) -> dict[str, float]:
    """Seconds per step of what our loop adds to the plain step, each timed alone on the same UNet."""
    ema = EMA(plain.unet, decay=0.999)
    plain()  # leaves gradients in place for the clip
    params = [p for p in plain.unet.parameters() if p.grad is not None]
    batch = images[: plain.batch]
    return {"plain_step_s": _per_call(plain, reps),
            "ema_update_s": _per_call(lambda: ema.update(plain.unet), reps),
            "grad_clip_s": _per_call(lambda: torch.nn.utils.clip_grad_norm_(params, 1.0), reps),
            "to_model_space_s": _per_call(lambda: to_model_space(batch), reps)}


def measure_throughput(args: argparse.Namespace, cond: str, images: torch.Tensor, labels: torch.Tensor,
                       progress: Progress) -> dict[str, Any]:
    """Alternating windows of ``window`` steps: plain, then (ours, plain) ``repeats`` times.

    Needs ``warm`` >= 1: the first plain window runs from our loop's callback after its warm-up steps."""
    warm, window, repeats, batch = max(1, args.warmup), args.window, args.repeats, args.batch
    config = our_config(args, cond, warm + window * repeats)
    plain = PlainDiffusersStep(config.unet, images, labels, batch=batch, lr=config.lr, seed=args.seed)
    for _ in range(warm):
        plain()
    timer = InterleavedWindows({"plain": plain}, batch=batch, window=window, warm=warm, report=lambda t: progress(
        f"throughput ({cond}) window {len(t.ours)}/{repeats}: ours {t.ours[-1]:.1f} img/s, "
        f"plain {t.theirs['plain'][-1]:.1f} img/s"))
    train_diffusion(images, labels, config=config, device="cpu", callback=timer.on_step)
    ours, peer, paired = timer.ours, timer.theirs["plain"], timer.paired("plain")  # plain, ours, plain, ..., plain
    cost = overheads(plain, images, reps=max(3, args.repeats))
    added = cost["ema_update_s"] + cost["grad_clip_s"] + cost["to_model_space_s"]
    return {"cond": cond, "params": param_count(plain.unet), "batch": batch, "window_steps": window,
            "warmup_steps": warm, "ours": summarize(ours), "plain": summarize(peer),
            "ratio_ours_over_plain": statistics.median(ours) / statistics.median(peer),
            "ratio_paired_median": statistics.median(paired), "ratio_paired_samples": paired,
            "overheads": cost, "expected_ratio_from_overheads": cost["plain_step_s"] / (cost["plain_step_s"] + added)}


def run_throughput_part(args: argparse.Namespace, train, progress: Progress) -> dict[str, Any]:
    images, labels = train.images[: args.pool], train.labels[: args.pool]
    return {"status": "ok", "size": args.size, "threads": torch.get_num_threads(),
            "plain": ("diffusers UNet2DModel (build_unet, same config), DDPMScheduler.add_noise, MSE, AdamW; "
                      "no EMA, no grad clip, no LR schedule, no Accelerate; batches from a pre-converted pool"),
            "ours": "genlens.diffusion.train_diffusion (Accelerate loop, grad clip 1.0, cosine LR, EMA 0.999)",
            "by_cond": {c: measure_throughput(args, c, images, labels, progress) for c in args.conds}}


# ------------------------------------------------------------------ the run
def run(args: argparse.Namespace, progress: Progress = lambda _m: None,
        save: Callable[[dict[str, Any]], None] = lambda _r: None) -> dict[str, Any]:
    from genlens.data.fashion_mnist import load_fashion_mnist

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    if args.quick:
        test = test.take(args.quick_test)
    result: dict[str, Any] = {"benchmark": "diffusion", "schema": SCHEMA, "env": environment(torch.device("cpu")),
                              "config": config_dict(args), "parts": {}, "wall_seconds": 0.0}
    png_dir = Path(args.out).parent / "diffusion"
    for part in args.parts:
        progress(f"part {part}")
        if part == "peer":
            result["parts"]["peer"] = run_peer_part(args, train, test, png_dir, progress)
        else:
            result["parts"]["throughput"] = run_throughput_part(args, train, progress)
        result["env"]["load_average_end"] = load_average()
        result["wall_seconds"] = time.perf_counter() - t_start
        save(result)
    return result


def config_dict(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("parts", "budget_s", "n_fid", "size", "threads", "batch", "sampling_steps", "sample_batch",
            "calibration_steps", "conds", "repeats", "window", "warmup", "pool", "seed", "quick")
    return {k: getattr(args, k) for k in keys}


# ------------------------------------------------------------------ table
def _f(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def diffusion_table(result: dict[str, Any]) -> str:
    """Markdown: the same-budget comparison with the peer, then training throughput against plain diffusers."""
    parts, env, cfg = result["parts"], result["env"], result["config"]
    out: list[str] = []
    peer = parts.get("peer")
    if peer and peer["status"] == "ok":
        out += [f"| model | params | FID ({peer['extractor']}, {peer['n_fake']} samples) | KID | steps | images seen "
                "| train img/s | train s | sampling s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, label in (("ours", "genlens (train_diffusion, --cond none)"), ("peer", peer["peer"]["package"])):
            s = peer[name]
            out.append(f"| {label} | {s['params'] / 1e6:.2f} M | {_f(s['fid'])} | {s['kid']:.3g} | {s['steps']:,} | "
                       f"{s['images_seen']:,} | {_f(s['train_images_per_s'])} | {_f(s['train_seconds'])} | "
                       f"{_f(s['sample_seconds'])} |")
        out.append(f"\nFID ours / peer = **{peer['fid_ratio_ours_over_peer']:.2f}** (lower is better; the target is "
                   f"< 1). Same budget {_f(peer['budget_s'])} s each, batch {cfg['batch']}, both sampled with "
                   f"DDIM {cfg['sampling_steps']} steps from EMA weights; FID against the {peer['n_real']:,} test "
                   f"images; {peer['n_fake']} real training images score {_f(peer['fid_real_train_vs_test'])}, the two "
                   f"test halves {_f(peer['fid_test_halves'])}.")
    elif peer:
        out.append(f"Peer comparison skipped: {peer['reason']}.")
    thr = parts.get("throughput")
    if thr:
        out += ["", "| cond | params | ours img/s | plain diffusers img/s | ours / plain | paired | EMA + clip cost |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for cond, m in thr["by_cond"].items():
            o = m["overheads"]
            share = (o["ema_update_s"] + o["grad_clip_s"]) / o["plain_step_s"]
            out.append(f"| {cond} | {m['params'] / 1e6:.2f} M | {_f(m['ours']['median'])} | "
                       f"{_f(m['plain']['median'])} | **{m['ratio_ours_over_plain']:.2f}** | {m['ratio_paired_median']:.2f} | "
                       f"{100 * share:.1f} % of a plain step |")
        first = next(iter(thr["by_cond"].values()))
        out.append(f"\nTraining images/s, medians of {cfg['repeats']} alternating windows of {first['window_steps']} "
                   f"steps, batch {cfg['batch']}, '{thr['size']}' UNet, {thr['threads']} torch thread(s); paired: "
                   "median of each window of ours over the plain windows before and after it. EMA + clip cost: "
                   "those two timed alone, per step.")
    out.append(f"\n{env['cpu']}, torch {env['torch']}, {env['date'][:10]}, load average at start "
               f"{env.get('load_average_start')}.")
    if cfg.get("quick"):
        out.append("**Quick smoke run: not a real measurement.**")
    return "\n".join(out)


# ------------------------------------------------------------------ command line
QUICK = {"budget_s": 2.0, "n_fid": 32, "size": "tiny", "batch": 16, "sampling_steps": 4, "sample_batch": 32,
         "calibration_steps": 2, "repeats": 2, "window": 2, "warmup": 1, "pool": 256}
FULL = {"budget_s": 1800.0, "n_fid": 2000, "size": "small", "batch": 64, "sampling_steps": 50, "sample_batch": 250,
        "calibration_steps": 12, "repeats": 5, "window": 4, "warmup": 3, "pool": 4096}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--budget-s", type=float, default=None, help="training seconds per model (default 1800)")
    p.add_argument("--n-fid", type=int, default=None, help="samples per model for FID (default 2000)")
    p.add_argument("--size", choices=("tiny", "small", "base"), default=None, help="our UNet preset (default small)")
    p.add_argument("--batch", type=int, default=None, help="training batch, both sides (default 64)")
    p.add_argument("--sampling-steps", type=int, default=None, help="DDIM steps, both sides (default 50)")
    p.add_argument("--sample-batch", type=int, default=None, help="images per sampling batch (default 250)")
    p.add_argument("--calibration-steps", type=int, default=None, help="timed steps that size our run (default 12)")
    p.add_argument("--conds", nargs="+", choices=("none", "class"), default=None,
                   help="throughput: conditioning kinds (default none class)")
    p.add_argument("--repeats", type=int, default=None, help="throughput: timed windows per side (default 5)")
    p.add_argument("--window", type=int, default=None, help="throughput: steps per window (default 4)")
    p.add_argument("--warmup", type=int, default=None, help="throughput: untimed steps per side (default 3)")
    p.add_argument("--pool", type=int, default=None, help="throughput: training images used (default 4096)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="smoke run: tiny UNet, 2 s budgets, 32 samples, < 60 s")
    p.add_argument("--quick-test", type=int, default=500, help=argparse.SUPPRESS)
    p.add_argument("--out", default="bench/results/diffusion.json", help="result file (PNGs in <its dir>/diffusion/)")
    args = p.parse_args(argv)
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.conds is None:
        args.conds = ["none"] if args.quick else ["none", "class"]
    if min(args.batch, args.n_fid, args.sampling_steps, args.repeats, args.window) < 1 or args.budget_s <= 0:
        p.error("--batch, --n-fid, --sampling-steps, --repeats, --window and --budget-s must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args, progress=lambda msg: print(f"[diffusion] {msg}", file=sys.stderr, flush=True),
                 save=lambda r: write_json(args.out, r))
    print(diffusion_table(result))
    print(f"\nwrote {args.out} in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
