"""Your data at 64 px: the diffusion trainer's step against two peers, and whether the streaming folder loader
keeps it fed.

The denoiser is the shipped ``64`` preset, colour and class-conditional, built the way ``genlens diffusion
train --data folder:PATH --resolution 64 --channels 3`` builds it: ``UNetConfig.preset("64", "class", ...)``
with the canvas fields of ``canvas_fields(64, 3, "64")`` (4 resolutions 64/32/16/8, self-attention at 16 and 8 px,
6.67 M parameters). Three parts, one run, one torch thread in the training process (``OMP_NUM_THREADS=1``):

* ``plain``: training images/s of genlens' diffusion trainer (``train_diffusion``: the shared Accelerate loop
  with ``diffusion_loss``, gradient clipping, cosine LR, EMA) against a bare diffusers step on the SAME UNet
  (``build_unet`` of the same config; ``DDPMScheduler.add_noise``, MSE, AdamW; ``bench/ddpm_peer.py``).
  Target: ours >= 0.95x plain.
* ``ddpm``: the same against denoising-diffusion-pytorch (``Unet`` + ``GaussianDiffusion`` with the package's
  defaults, one step of its ``Trainer``: loss, backward, clip 1.0, Adam, ``ema_pytorch.EMA``), its width chosen
  for the parameter count closest to ours (``ddpm_peer.peer_dim_for``), with four levels ``dim_mults`` like the
  preset's. Target: ours >= 2x.
  Windows of ``window`` steps alternate inside one training run of ours: [ddpm, plain], ours, [ddpm, plain],
  ..., ours, [ddpm, plain] (the peers' windows run from our loop's step callback, their time excluded from
  ours), so outside load hits all alike. Each window of ours is divided by the mean of the peer's windows
  before and after it; the median of these paired ratios is reported with a 95 % bootstrap interval.
* ``loader``: a labelled folder (``ROOT/<class>/<i>.png``, 10 classes) of ``files`` generated 64x64 RGB PNGs in a
  temporary directory, read by the library's streaming loader as a trainer reads a big folder:
  ``genlens.data.stream.open_data(DataOptions("folder:ROOT", resolution, channels=3), stream=True)`` (a
  ``StreamedFolder``, streaming forced on although the folder is small) and ``batches(..., workers=2)``, feeding
  the trainer's step (``diffusion_loss`` + backward + clip + AdamW on the same UNet). Data time is the wait for
  the next batch; target: data time <= 5 % of step time. The loader's own rate (images/s of one epoch of
  ``batches`` with no training) is given too.

    OMP_NUM_THREADS=1 .venv/bin/python bench/data.py                      # ~9 min on one loaded CPU thread
    .venv/bin/python bench/data.py --quick --out /tmp/data.json          # smoke run: 16 px, tiny preset, < 1 min
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import InterleavedWindows, environment, load_average, summarize, write_json
from ddpm_peer import (
    PEER_PACKAGE,
    PEER_TRAINER,
    PlainDiffusersStep,
    param_count,
    peer_available,
    peer_dim_for,
    peer_version,
)

from genlens.data import DataOptions, StreamedFolder, batches, open_data
from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, to_model_space, train_diffusion
from genlens.diffusion.config import canvas_fields
from genlens.diffusion.schedule import NoiseSchedule
from genlens.diffusion.train import diffusion_loss
from genlens.diffusion.unet import build_unet
from genlens.utils.config_io import to_dict

SCHEMA = 2  # 2: the UNet named by its preset ("unet": {"preset": ...}), the loader is genlens.data.stream
PARTS = ("plain", "ddpm", "loader")
Progress = Callable[[str], None]

# The denoiser by preset name (genlens.diffusion.config.PRESETS), colour, class-conditional; see unet_config.
UNET_64 = {"preset": "64", "cond": "class", "num_classes": 10, "channels": 3}
UNET_QUICK = {"preset": "tiny", "cond": "class", "num_classes": 10, "channels": 3}
PEER_DIM_MULTS_64 = (1, 2, 4, 4)  # four resolutions, like the 64 preset
LOADER = "genlens.data.stream: open_data(DataOptions('folder:ROOT', resolution, channels=3), stream=True), batches"

# Everything the numbers depend on, declared before anything runs.
FULL = {"resolution": 64, "unet": UNET_64, "batch": 8, "pool": 256, "warmup": 1, "window": 1, "repeats": 14,
        "files": 2000, "workers": 2, "loader_steps": 12, "bootstrap": 10_000, "seed": 0, "quick": False}
QUICK = {"resolution": 16, "unet": UNET_QUICK, "batch": 4, "pool": 32, "warmup": 1, "window": 1, "repeats": 2,
         "files": 40, "workers": 2, "loader_steps": 3, "bootstrap": 200, "seed": 0, "quick": True}
TARGETS = {"ours_over_plain": 0.95, "ours_over_ddpm": 2.0, "loader_data_share": 0.05}


# ------------------------------------------------------------------ data: generated colour images
def make_images(n: int, size: int, *, seed: int) -> torch.Tensor:
    """``n`` uint8 (3, size, size) images: smooth colour fields (upsampled noise) with a bright square each."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    x = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    corner = torch.randint(0, size // 2, (n, 2), generator=g)
    for i, (r, c) in enumerate(corner.tolist()):
        x[i, :, r:r + size // 4, c:c + size // 4] = torch.rand(3, 1, 1, generator=g)
    return (x * 255).round().clamp(0, 255).to(torch.uint8)


def write_pngs(images: torch.Tensor, folder: Path, *, classes: int) -> None:
    """``folder/c<k>/<i>.png``, image i in class i % ``classes``: a labelled folder as users give one."""
    from PIL import Image

    for k in range(classes):
        (folder / f"c{k}").mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"c{i % classes}" / f"{i:05d}.png")


def unet_config(cfg: dict[str, Any]) -> UNetConfig:
    """The UNet of ``cfg["unet"]`` as the CLI builds it: the named preset with the canvas fields of
    ``cfg["resolution"]``-px images of ``channels`` (``genlens.cli.diffusion``'s path, no copied numbers)."""
    spec = cfg["unet"]
    canvas = canvas_fields(cfg["resolution"], spec["channels"], spec["preset"])
    return UNetConfig.preset(spec["preset"], spec["cond"], num_classes=spec["num_classes"], **canvas)


# ------------------------------------------------------------------ the peers
class DdpmStep:
    """One step of denoising-diffusion-pytorch's ``Trainer`` on ``GaussianDiffusion(Unet(dim, dim_mults))``."""

    def __init__(self, target_params: int, images: torch.Tensor, *, batch: int, seed: int):
        from denoising_diffusion_pytorch import GaussianDiffusion, Unet
        from ema_pytorch import EMA

        self.dim, _ = peer_dim_for(target_params, channels=3, dim_mults=PEER_DIM_MULTS_64)
        torch.manual_seed(seed)
        self.model = GaussianDiffusion(Unet(dim=self.dim, dim_mults=PEER_DIM_MULTS_64, channels=3),
                                       image_size=images.shape[-1], timesteps=1000).train()
        cfg = PEER_TRAINER
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"], betas=cfg["adam_betas"])
        self.ema = EMA(self.model, beta=cfg["ema_decay"], update_every=cfg["ema_update_every"])
        self.pool, self.batch = images.float() / 255.0, batch  # the peer normalises [0, 1] -> [-1, 1] itself
        self.gen = torch.Generator().manual_seed(seed + 1)

    @property
    def params(self) -> int:
        return param_count(self.model.model)

    def __call__(self) -> float:
        idx = torch.randint(0, len(self.pool), (self.batch,), generator=self.gen)
        loss = self.model(self.pool[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), PEER_TRAINER["max_grad_norm"])
        self.opt.step()
        self.opt.zero_grad()
        self.ema.update()
        return float(loss.detach())


# ------------------------------------------------------------------ statistics
def median_interval(samples: list[float], *, reps: int, seed: int) -> dict[str, Any]:
    """Median of ``samples`` with a 95 % percentile-bootstrap interval (``reps`` resamples)."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(samples, k=len(samples))) for _ in range(reps))
    return {"median": statistics.median(samples), "ci95": [meds[int(0.025 * reps)], meds[int(0.975 * reps) - 1]],
            "samples": list(samples)}


# ------------------------------------------------------------------ parts
def measure_step(cfg: dict[str, Any], parts: list[str], images: torch.Tensor, labels: torch.Tensor,
                 progress: Progress) -> dict[str, Any]:
    """Our loop with the peers' windows interleaved from its step callback (see the module docstring)."""
    warm, window, repeats, batch = cfg["warmup"], cfg["window"], cfg["repeats"], cfg["batch"]
    unet = unet_config(cfg)
    config = DiffusionTrainConfig(unet=unet, steps=warm + window * repeats, batch_size=batch, seed=cfg["seed"],
                                  warmup_steps=1, data="generated")
    params = param_count(build_unet(unet))
    peers: dict[str, Callable[[], float]] = {}
    notes: dict[str, str] = {}
    if "ddpm" in parts:  # first: then the plain window sits right before each window of ours
        if peer_available():
            peers["ddpm"] = DdpmStep(params, images, batch=batch, seed=cfg["seed"])
        else:
            notes["ddpm"] = f"skipped: {PEER_PACKAGE} is not installed (pip install {PEER_PACKAGE})"
    if "plain" in parts:
        peers["plain"] = PlainDiffusersStep(unet, images, labels, batch=batch, lr=config.lr, seed=cfg["seed"])
    for step in peers.values():
        for _ in range(warm):
            step()
    timer = InterleavedWindows(peers, batch=batch, window=window, warm=warm, report=lambda t: progress(
        f"window {len(t.ours)}/{repeats}: ours {t.ours[-1]:.2f} img/s, "
        + ", ".join(f"{n} {v[-1]:.2f}" for n, v in t.theirs.items())))
    train_diffusion(images, labels, config=config, device="cpu", callback=timer.on_step)
    out: dict[str, Any] = {"params": params, "ours": summarize(timer.ours), "notes": notes}
    for name, rates in timer.theirs.items():
        out[name] = {**summarize(rates), "ratio_ours_over_peer": median_interval(
            timer.paired(name), reps=cfg["bootstrap"], seed=cfg["seed"])}
    if "ddpm" in peers:
        out["ddpm"] |= {"package": f"{PEER_PACKAGE} {peer_version()}", "dim": peers["ddpm"].dim,
                        "dim_mults": list(PEER_DIM_MULTS_64), "params": peers["ddpm"].params}
    return out


def measure_loader(cfg: dict[str, Any], images: torch.Tensor, progress: Progress) -> dict[str, Any]:
    """Data time against step time for the trainer's step fed by ``genlens.data.stream`` (streamed, 2 workers)."""
    batch, steps, workers, seed = cfg["batch"], cfg["loader_steps"], cfg["workers"], cfg["seed"]
    unet = unet_config(cfg)
    torch.manual_seed(seed)
    net = Denoiser(unet).train()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-4)
    alphas = NoiseSchedule().alphas_cumprod()
    gen = torch.Generator().manual_seed(seed + 1)

    def train_step(x: torch.Tensor, y: torch.Tensor) -> None:  # the trainer's loss, backward, clip, AdamW
        loss = diffusion_loss(net, to_model_space(x, unet.pad), y, alphas_cumprod=alphas, generator=gen,
                              cond_dropout=0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    with tempfile.TemporaryDirectory(prefix="genlens-bench-data-") as tmp:
        t0 = time.perf_counter()
        write_pngs(make_images(cfg["files"], cfg["resolution"], seed=seed + 7), Path(tmp), classes=unet.num_classes)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        options = DataOptions(f"folder:{tmp}", resolution=cfg["resolution"], channels=unet.in_channels)
        data = open_data(options, stream=True)  # what a trainer gets for a folder too big for memory
        open_s = time.perf_counter() - t0
        if not isinstance(data, StreamedFolder) or data.num_classes != unet.num_classes:
            raise RuntimeError(f"expected a streamed folder of {unet.num_classes} classes, got {data!r:.200}")

        def epoch(k: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
            return batches(data, batch=batch, seed=seed, epoch=k, workers=workers, drop_last=True)

        t0 = time.perf_counter()
        seen = sum(len(x) for x, _, _ in epoch(0))  # the loader alone: one epoch, no training
        alone = seen / (time.perf_counter() - t0)
        progress(f"loader alone: {alone:.0f} img/s over {seen} files")
        it = epoch(1)
        t0 = time.perf_counter()
        x, y, _ = next(it)  # worker start-up and the first batch: reported, not counted
        first_s = time.perf_counter() - t0
        train_step(x, y)  # warm-up step
        waits, works = [], []
        for _ in range(steps):
            t0 = time.perf_counter()
            x, y, _ = next(it)
            t1 = time.perf_counter()
            train_step(x, y)
            waits.append(t1 - t0)
            works.append(time.perf_counter() - t1)
        it.close()  # stops the workers before the folder goes
    share = sum(waits) / (sum(waits) + sum(works))
    progress(f"loader feeding the step: data {1000 * statistics.median(waits):.1f} ms, step "
             f"{1000 * statistics.median(works):.0f} ms per batch ({100 * share:.2f} % data)")
    return {"files": cfg["files"], "workers": workers, "batch": batch, "steps": steps, "loader": LOADER,
            "streamed": True, "classes": data.num_classes, "write_pngs_s": write_s, "open_data_s": open_s,
            "first_batch_s": first_s, "loader_alone_images_per_s": alone, "data_s": summarize(waits),
            "step_s": summarize(works), "data_share": share}


# ------------------------------------------------------------------ the run
def run(cfg: dict[str, Any], parts: list[str], progress: Progress = lambda _m: None) -> dict[str, Any]:
    t_start = time.perf_counter()
    torch.manual_seed(cfg["seed"])
    images = make_images(cfg["pool"], cfg["resolution"], seed=cfg["seed"])
    labels = torch.arange(cfg["pool"]) % cfg["unet"]["num_classes"]
    result: dict[str, Any] = {"benchmark": "data", "schema": SCHEMA, "env": environment(torch.device("cpu")),
                              "config": {**cfg, "parts": parts, "threads": torch.get_num_threads()},
                              "unet": to_dict(unet_config(cfg)),  # the preset's fields, as they were
                              "targets": TARGETS, "parts": {}, "wall_seconds": 0.0}
    if {"plain", "ddpm"} & set(parts):
        progress("step throughput")
        result["parts"]["step"] = measure_step(cfg, parts, images, labels, progress)
    if "loader" in parts:
        progress("loader")
        result["parts"]["loader"] = measure_loader(cfg, images, progress)
    result["verdict"] = verdict(result)
    result["env"]["load_average_end"] = load_average()
    result["wall_seconds"] = time.perf_counter() - t_start
    return result


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """Each target: the measured value and its word: the speed ratios by their 95 % interval ("met" only when
    the interval clears the target, "at the bar" when it straddles it, else "missed"; the guide's rule), the
    loader share by its median (None when not measured)."""
    from genlens.metrics.intervals import Interval
    from genlens.metrics.intervals import verdict as word

    step, loader = result["parts"].get("step", {}), result["parts"].get("loader")
    out: dict[str, Any] = {}
    for name, key in (("plain", "ours_over_plain"), ("ddpm", "ours_over_ddpm")):
        ratio = step[name]["ratio_ours_over_peer"] if name in step else None
        if ratio is None:
            out[key] = {"value": None, "target": TARGETS[key], "verdict": None, "met": None}
            continue
        lo, hi = ratio["ci95"]
        said = word(Interval(ratio["median"], lo, hi, 0.95, "bootstrap-percentile", len(ratio["samples"])),
                    TARGETS[key], higher_is_better=True)
        out[key] = {"value": ratio["median"], "ci95": [lo, hi], "target": TARGETS[key], "verdict": said,
                    "met": said == "met"}
    value = loader["data_share"] if loader else None
    out["loader_data_share"] = {"value": value, "target": TARGETS["loader_data_share"],
                                "met": None if value is None else value <= TARGETS["loader_data_share"]}
    return out


def table(result: dict[str, Any]) -> str:
    """Markdown summary of a result, of this schema or schema 1 (a UNet of its own fields, a hand-made Dataset)."""
    cfg, step, loader = result["config"], result["parts"].get("step"), result["parts"].get("loader")
    preset = cfg["unet"].get("preset")  # schema 1 stored the UNet's fields, no preset
    ours = f"genlens train_diffusion, preset {preset}" if preset else "genlens train_diffusion"
    out = []
    if step:
        out += ["| side | params | img/s (median) | ours / side, median [95 % CI] |", "|---|---:|---:|---:|",
                f"| {ours} | {step['params'] / 1e6:.2f} M | {step['ours']['median']:.2f} | |"]
        for name, label in (("plain", "bare diffusers step"), ("ddpm", "denoising-diffusion-pytorch")):
            if name in step:
                s, r = step[name], step[name]["ratio_ours_over_peer"]
                params = s.get("params", step["params"])
                out.append(f"| {label} | {params / 1e6:.2f} M | {s['median']:.2f} | **{r['median']:.2f}** "
                           f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}] |")
        out += [f"| {k} | {v} | | |" for k, v in step["notes"].items()]
    if loader:
        how = " (genlens.data.stream, streamed)" if loader.get("streamed") else ""
        out.append(f"\nLoader{how}: {loader['workers']} workers over {loader['files']} PNGs, batch {loader['batch']}: data "
                   f"{100 * loader['data_share']:.2f} % of step time (target <= 5 %); the loader alone "
                   f"{loader['loader_alone_images_per_s']:.0f} img/s.")
    out.append(f"\n{cfg['resolution']} px RGB, batch {cfg['batch']}, {cfg['repeats']} windows of {cfg['window']} steps, "
               f"{cfg['threads']} torch thread(s); {result['env']['cpu']}, torch {result['env']['torch']}.")
    words = [f"{k}: **{v.get('verdict') or ('met' if v['met'] else 'missed' if v['met'] is False else 'n/a')}**"
             for k, v in result.get("verdict", {}).items()]
    if words:
        out.append("\nTargets (ours/peer >= 0.95 and >= 2, data share <= 5 %): " + "; ".join(words) + ".")
    if (load := result["env"].get("load_average_end")) is not None:
        out.append(f"Load average at the end of the run: {load} (a shared machine: speed ratios are noisy).")
    if cfg.get("quick"):
        out.append("**Quick smoke run: not a real measurement.**")
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--quick", action="store_true", help="smoke run: 16 px, tiny preset, a few steps, < 1 min")
    p.add_argument("--out", default="bench/results/data.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    result = run(cfg, args.parts, progress=lambda msg: print(f"[data] {msg}", file=sys.stderr, flush=True))
    write_json(args.out, result)
    print(table(result))
    print(f"\nwrote {args.out} in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
