"""Zoo throughput: training and inference images/s per architecture, and GFLOP/s against the matmul peak.

One run measures, interleaved repeat by repeat so that load from other processes hits all of them alike:

* per zoo architecture, the real training step of ``genlens zoo train`` (augmentation, forward,
  label-smoothed cross-entropy, backward, gradient clipping, AdamW, LR schedule) and eval-mode
  ``no_grad`` inference, both in images/s;
* the peer: this machine's square-matmul GFLOP/s, sampled right before every one of those samples, so
  each sample meets the peak under the same outside load (median per size, the best size is the peak).

FLOPs per image come from ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions; a
training step counts forward + backward). Attention is counted through the math SDPA backend because the
counter has no formula for the fused CPU kernel (the ViT would lose ~10 % of its FLOPs); timing uses the
default backend. Achieved GFLOP/s = FLOPs per image x images/s; ``peak_fraction`` is the median over samples
of that over the peak measured beside it (``peak_fraction_of_medians`` divides the two medians instead).

    .venv/bin/python bench/zoo.py                 # full run: ~2 min on 2 idle CPU cores, up to 6 loaded
    .venv/bin/python bench/zoo.py --quick --archs fmnist-cnn --out /tmp/zoo.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    MatmulPeak,
    calibrate,
    dtype_name,
    environment,
    load_average,
    peak_summary,
    summarize,
    time_calls,
    write_json,
)

from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.models.zoo.augment import random_hflip, random_shift
from genlens.models.zoo.specs import ZOO, build, get_spec
from genlens.models.zoo.train import make_handle, warmup_cosine
from genlens.utils.device import resolve_device

SCHEMA = 1
POOL_BATCHES = 8  # synthetic images held in memory: this many training batches
PEAK_MIN_TIME = 0.1  # seconds per size per peak sample (one is taken before every subject sample)


# --- the two workloads --------------------------------------------------------------------------------

def load_handle(name: str, device: torch.device) -> tuple[ModelHandle, str]:
    """The shipped trained model, or a seeded random init when no weights ship (speed is the same)."""
    import genlens

    try:
        return genlens.load_model(name, device=str(device)), "shipped"
    except GenlensError:
        torch.manual_seed(0)
        return make_handle(get_spec(name), build(name).to(device)), "random-init"


def synthetic_images(n: int, device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (n, 1, 28, 28) and labels, like the trainer's in-memory Fashion-MNIST tensors."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    return x.to(device), y.to(device)


class TrainStep:
    """One optimisation step exactly as in ``genlens.models.zoo.train.train_zoo_model``."""

    def __init__(self, handle: ModelHandle, *, batch: int, device: torch.device, seed: int = 0):
        self.cfg = get_spec(handle.name).train
        self.handle, self.model, self.batch, self.device = handle, handle.model, batch, device
        self.x_all, self.y_all = synthetic_images(batch * POOL_BATCHES, device, seed)
        self.order = torch.Generator().manual_seed(seed + 1)
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.opt = self._optimizer()
        total = 10_000  # schedule length only shapes the LR value, not the cost of a step
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: warmup_cosine(s, total, 100))
        self.use_bf16 = device.type == "cuda"
        self.model.train()

    def _optimizer(self) -> torch.optim.Optimizer:
        decay, no_decay = [], []
        for pname, p in self.model.named_parameters():
            (no_decay if p.ndim <= 1 or pname.endswith(("pos_embed", "cls_token")) else decay).append(p)
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.cfg.weight_decay},
                                  {"params": no_decay, "weight_decay": 0.0}], lr=self.cfg.lr, betas=(0.9, 0.999))

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.use_bf16 else torch.float32

    def __call__(self) -> None:
        cfg = self.cfg
        idx = torch.randperm(len(self.y_all), generator=self.order)[: self.batch].to(self.device)
        x = self.x_all[idx].float().div_(255.0)
        x = random_shift(x, cfg.max_shift, self.gen)
        if cfg.hflip:
            x = random_hflip(x, self.gen)
        y = self.y_all[idx]
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16):
            logits = self.model(self.handle.normalize(x))
            loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.sched.step()


class InferStep:
    """Eval-mode, ``no_grad`` logits for one batch of [0, 1] images (what ``ModelHandle.predict`` does)."""

    dtype = torch.float32

    def __init__(self, handle: ModelHandle, *, batch: int, device: torch.device, seed: int = 0):
        self.handle, self.batch = handle, batch
        x, _ = synthetic_images(batch, device, seed + 2)
        self.x = x.float().div_(255.0)
        handle.model.eval()

    @torch.no_grad()
    def __call__(self) -> None:
        self.handle.model(self.handle.normalize(self.x))


def count_flops(step: Callable[[], None], images: int) -> float:
    """FLOPs per image of one call of ``step`` (matmul/conv ops; attention via the math SDPA backend)."""
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        step()
    return counter.get_total_flops() / images


# --- one measured subject -----------------------------------------------------------------------------

@dataclass
class Subject:
    """A workload (architecture x mode): calls per sample, images/s samples, and the peak beside each."""

    arch: str
    mode: str  # train | infer
    step: TrainStep | InferStep
    device: torch.device
    flops_per_image: float = 0.0
    iters: int = 1
    samples: list[float] = field(default_factory=list)
    peak_beside: list[float] = field(default_factory=list)  # matmul GFLOP/s measured just before each sample
    cpu_share: list[float] = field(default_factory=list)  # process CPU time / (wall time x torch threads)

    @property
    def dtype(self) -> str:
        return dtype_name(self.step.dtype)

    def warm_up(self, *, min_time: float, min_iters: int) -> None:
        """Count FLOPs (the first, warm-up call), then time one call to choose calls per sample."""
        self.flops_per_image = count_flops(self.step, self.step.batch)
        self.iters = calibrate(self.step, self.device, min_time=min_time, min_iters=min_iters)

    def sample(self, peak_now: float) -> None:
        """Time one sample; ``peak_now`` is the matmul peak measured right before it (same load)."""
        cpu0 = time.process_time()
        secs = time_calls(self.step, self.iters, self.device)
        self.cpu_share.append((time.process_time() - cpu0) / secs / torch.get_num_threads())
        self.samples.append(self.step.batch * self.iters / secs)
        self.peak_beside.append(peak_now)

    def result(self, peak_gflops: float) -> dict[str, Any]:
        """Medians; ``peak_fraction`` pairs each sample with the peak measured beside it."""
        ips = summarize(self.samples)
        gflops = self.flops_per_image * ips["median"] / 1e9
        paired = [self.flops_per_image * x / 1e9 / p for x, p in zip(self.samples, self.peak_beside)]
        return {"images_per_s": ips["median"], "images_per_s_samples": ips, "batch": self.step.batch,
                "calls_per_sample": self.iters, "dtype": self.dtype, "flops_per_image": self.flops_per_image,
                "gflops": gflops, "peak_fraction": statistics.median(paired),
                "peak_fraction_samples": paired, "peak_beside_samples": self.peak_beside,
                "peak_fraction_of_medians": gflops / peak_gflops,
                "cpu_share_samples": self.cpu_share}


def make_subjects(arch: str, args: argparse.Namespace, device: torch.device) -> tuple[list[Subject], dict]:
    """Training and inference subjects for one architecture (separate model copies), plus its facts."""
    train_handle, weights = load_handle(arch, device)
    infer_handle, _ = load_handle(arch, device)
    subjects = [
        Subject(arch, "train", TrainStep(train_handle, batch=args.train_batch, device=device), device),
        Subject(arch, "infer", InferStep(infer_handle, batch=args.infer_batch, device=device), device),
    ]
    facts = {"arch": get_spec(arch).arch, "weights": weights,
             "params": sum(p.numel() for p in infer_handle.model.parameters())}
    return subjects, facts


# --- the run ------------------------------------------------------------------------------------------

def make_peaks(args: argparse.Namespace, device: torch.device) -> dict[str, list[MatmulPeak]]:
    """Warmed-up matmul peers per dtype: fp32 always, bf16 too on CUDA (the trainer's autocast dtype)."""
    dtypes = [torch.float32] + ([torch.bfloat16] if device.type == "cuda" else [])
    peaks = {dtype_name(dt): [MatmulPeak(n, device=device, dtype=dt) for n in args.matmul_sizes] for dt in dtypes}
    for group in peaks.values():
        for p in group:
            p.warm_up(min_time=PEAK_MIN_TIME)
    return peaks


def sample_peak(group: list[MatmulPeak], samples: dict[int, list[float]]) -> float:
    """One sample of every size, appended to ``samples``; returns the best of them."""
    now = [p.sample() for p in group]
    for p, g in zip(group, now):
        samples.setdefault(p.n, []).append(g)
    return max(now)


def run(args: argparse.Namespace, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Measure every subject, each sample right after a peak sample, over ``args.repeats`` rounds."""
    t_start = time.perf_counter()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    env = environment(device)
    peaks = make_peaks(args, device)

    subjects, facts = [], {}
    for arch in args.archs:
        progress(f"warm-up {arch}")
        subs, facts[arch] = make_subjects(arch, args, device)
        for s in subs:
            s.warm_up(min_time=args.min_time, min_iters=args.train_steps if s.mode == "train" else args.infer_batches)
        subjects += subs

    peak_samples: dict[str, dict[int, list[float]]] = {dt: {} for dt in peaks}
    for r in range(args.repeats):
        progress(f"repeat {r + 1}/{args.repeats}")
        for s in subjects:
            s.sample(peak_now=sample_peak(peaks[s.dtype], peak_samples[s.dtype]))

    peak = {dt: peak_summary(peak_samples[dt], dt) for dt in peaks if peak_samples[dt]}
    for dt, group in peaks.items():
        for p in group:
            if dt in peak:
                peak[dt]["sizes"][str(p.n)]["calls_per_sample"] = p.iters
    models = {arch: dict(facts[arch]) for arch in args.archs}
    for s in subjects:
        models[s.arch][s.mode] = s.result(peak[s.dtype]["gflops"])

    env["load_average_end"] = load_average()
    return {
        "benchmark": "zoo", "schema": SCHEMA,
        "peer": ("square matmul peak of this machine, measured right before every sample; peak_fraction = "
                 "median over samples of achieved GFLOP/s / the peak beside it"),
        "env": env, "config": config_dict(args),
        "data": "synthetic uint8 28x28 images (throughput does not depend on pixel values)",
        "flop_counting": "torch.utils.flop_counter.FlopCounterMode, math SDPA backend; train = fwd + bwd",
        "peak": peak, "models": models,
        "wall_seconds": time.perf_counter() - t_start,
    }


def config_dict(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("repeats", "train_batch", "infer_batch", "train_steps", "infer_batches", "min_time",
            "matmul_sizes", "archs", "device", "threads", "quick")
    return {k: getattr(args, k) for k in keys}


# --- command line -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=None, help="timed rounds; medians over these (default 5)")
    p.add_argument("--batch", type=int, default=None, dest="train_batch",
                   help="training batch (default 128, as in the zoo trainer)")
    p.add_argument("--infer-batch", type=int, default=None, help="inference batch (default 512)")
    p.add_argument("--train-steps", type=int, default=None, help="min training steps per sample (default 2)")
    p.add_argument("--infer-batches", type=int, default=None, help="min inference batches per sample (default 1)")
    p.add_argument("--min-time", type=float, default=None, help="min seconds per sample (default 1.0)")
    p.add_argument("--matmul-sizes", type=int, nargs="+", default=None,
                   help="square matmul sizes for the peak (default 1024 2048 on CPU, 4096 8192 on CUDA)")
    p.add_argument("--archs", nargs="+", default=None, help="zoo names (default: all)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--quick", action="store_true", help="smoke run: small batches, 2 repeats, < 60 s")
    p.add_argument("--out", default="bench/results/zoo.json", help="result file")
    return fill_defaults(p.parse_args(argv))


def fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Full-run or ``--quick`` defaults for every option the user left out."""
    full = {"repeats": 5, "train_batch": 128, "infer_batch": 512, "train_steps": 2, "infer_batches": 1,
            "min_time": 1.0}
    quick = {"repeats": 2, "train_batch": 32, "infer_batch": 64, "train_steps": 1, "infer_batches": 1,
             "min_time": 0.0}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.matmul_sizes is None:
        cuda = resolve_device(args.device).type == "cuda"
        args.matmul_sizes = [4096, 8192] if cuda else [1024] if args.quick else [1024, 2048]
    args.archs = args.archs or ZOO.available()
    for a in args.archs:
        get_spec(a)  # one-line error for unknown names
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args, progress=lambda msg: print(f"[zoo] {msg}", file=sys.stderr, flush=True))
    path = write_json(args.out, result)
    from table import zoo_table

    print(zoo_table(result))
    print(f"\nwrote {path} in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
