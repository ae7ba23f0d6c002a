"""The two peers of ``bench/diffusion.py``: denoising-diffusion-pytorch, and a plain diffusers training step.

* **denoising-diffusion-pytorch** (PyPI ``denoising-diffusion-pytorch``, lucidrains): its ``Unet`` and
  ``GaussianDiffusion`` with the package's own defaults (v-prediction, sigmoid β schedule, 1000 training
  steps, DDIM with ``sampling_timesteps`` steps and eta 0), trained by a loop that repeats one step of its
  ``Trainer`` (Adam lr 1e-4, betas (0.9, 0.99), gradient-norm clip 1.0, ``ema_pytorch.EMA`` decay 0.995
  updated every 10 steps) but stops on a wall-clock budget; ``Trainer`` itself only stops on a step count
  and reads images from a folder. No horizontal flips (ours has none either): both sides see the same
  Fashion-MNIST images, padded 28 -> 32 with background like ``genlens.diffusion.to_model_space``.
* **plain diffusers step**: ``UNet2DModel`` from ``genlens.diffusion.unet.build_unet`` (the same config as
  ours), ``DDPMScheduler.add_noise``, MSE to ε, ``AdamW`` step: the minimum a training step needs, no EMA,
  no gradient clipping, no LR schedule, no Accelerate, batches indexed from a pre-converted float pool.

Nothing here prints; ``bench/diffusion.py`` reports.
"""
from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from genlens.diffusion.schedule import NoiseSchedule
from genlens.diffusion.unet import PAD, UNetConfig, build_unet, to_model_space

PEER_PACKAGE = "denoising-diffusion-pytorch"
PEER_TRAINER = {"lr": 1e-4, "adam_betas": (0.9, 0.99), "max_grad_norm": 1.0, "ema_decay": 0.995,
                "ema_update_every": 10}  # denoising_diffusion_pytorch.Trainer defaults (v2.x)
PEER_DIM_MULTS = (1, 2, 4)  # three resolutions 32, 16, 8, like our presets


def peer_available() -> bool:
    """Whether ``denoising_diffusion_pytorch`` (and its ``ema_pytorch``) can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in ("denoising_diffusion_pytorch", "ema_pytorch"))


def peer_version() -> str:
    from importlib.metadata import version

    return version(PEER_PACKAGE)


def param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def pad01(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 1, 28, 28) -> float (B, 1, 32, 32) in [0, 1], black border (the peer normalises to [-1, 1])."""
    return F.pad(images.float() / 255.0, (PAD, PAD, PAD, PAD), value=0.0)


def crop01(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, 32, 32) in [0, 1] -> (B, 1, 28, 28), clamped."""
    return x[..., PAD:-PAD, PAD:-PAD].float().clamp(0.0, 1.0)


# ------------------------------------------------------------------ denoising-diffusion-pytorch
def peer_dim_for(target_params: int, *, channels: int = 1,
                 dim_mults: tuple[int, ...] = PEER_DIM_MULTS) -> tuple[int, int]:
    """The peer ``Unet(dim, dim_mults)`` width (a multiple of 8) whose parameter count is closest to
    ``target_params``, and that count."""
    from denoising_diffusion_pytorch import Unet

    best: tuple[int, int] | None = None
    for dim in range(8, 129, 8):
        n = param_count(Unet(dim=dim, dim_mults=dim_mults, channels=channels))
        if best is None or abs(n - target_params) < abs(best[1] - target_params):
            best = (dim, n)
        if n > target_params:
            break  # the count grows with dim
    assert best is not None
    return best


def build_peer(dim: int, *, sampling_steps: int, seed: int) -> torch.nn.Module:
    """``GaussianDiffusion`` over a 1-channel 32x32 ``Unet(dim, dim_mults=(1, 2, 4))``, package defaults."""
    from denoising_diffusion_pytorch import GaussianDiffusion, Unet

    torch.manual_seed(seed)
    unet = Unet(dim=dim, dim_mults=PEER_DIM_MULTS, channels=1)
    return GaussianDiffusion(unet, image_size=32, timesteps=1000, sampling_timesteps=sampling_steps)


@dataclass
class PeerRun:
    ema_model: torch.nn.Module  # the EMA copy of the GaussianDiffusion, used for sampling (as Trainer does)
    steps: int
    images_seen: int
    train_seconds: float
    losses: list[float] = field(default_factory=list)


def train_peer(diffusion: torch.nn.Module, images: torch.Tensor, *, batch: int, budget_s: float, seed: int,
               progress: Callable[[dict[str, Any]], None] | None = None) -> PeerRun:
    """Train on uint8 ``images`` (N, 1, 28, 28) until ``budget_s`` seconds have passed (checked after each step).

    One step = ``Trainer.train``'s body with gradient_accumulate_every=1: loss, backward, clip, Adam, EMA.
    The peer draws t and ε from torch's global RNG, so it is seeded here.
    """
    from ema_pytorch import EMA

    cfg = PEER_TRAINER
    opt = torch.optim.Adam(diffusion.parameters(), lr=cfg["lr"], betas=cfg["adam_betas"])
    ema = EMA(diffusion, beta=cfg["ema_decay"], update_every=cfg["ema_update_every"])
    order = torch.Generator().manual_seed(seed + 1)
    torch.manual_seed(seed + 2)
    perm, pos, steps, losses = torch.randperm(len(images), generator=order), 0, 0, []
    diffusion.train()
    start = time.perf_counter()
    while time.perf_counter() - start < budget_s:
        if pos + batch > len(perm):  # a new epoch (drop the last partial batch, like a shuffled DataLoader)
            perm, pos = torch.randperm(len(images), generator=order), 0
        idx = perm[pos:pos + batch]
        pos += batch
        loss = diffusion(pad01(images[idx]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(diffusion.parameters(), cfg["max_grad_norm"])
        opt.step()
        opt.zero_grad()
        ema.update()
        steps += 1
        losses.append(float(loss.detach()))
        if progress is not None:
            progress({"step": steps, "loss": losses[-1], "elapsed": time.perf_counter() - start})
    seconds = time.perf_counter() - start
    return PeerRun(ema_model=ema.ema_model.eval(), steps=steps, images_seen=steps * batch, train_seconds=seconds,
                   losses=losses)


@torch.inference_mode()
def sample_peer(model: torch.nn.Module, n: int, *, batch: int, seed: int) -> torch.Tensor:
    """``n`` images (n, 1, 28, 28) in [0, 1] from the peer's own sampler (DDIM when sampling_timesteps < 1000)."""
    torch.manual_seed(seed)
    out = []
    for start in range(0, n, batch):
        out.append(crop01(model.sample(batch_size=min(batch, n - start))))
    return torch.cat(out)


# ------------------------------------------------------------------ the plain diffusers training step
class PlainDiffusersStep:
    """One minimal diffusers training step on the same UNet as ours (``build_unet(config)``)."""

    def __init__(self, config: UNetConfig, images: torch.Tensor, labels: torch.Tensor, *, batch: int,
                 lr: float = 2e-4, schedule: NoiseSchedule | None = None, seed: int = 0):
        from diffusers import DDPMScheduler

        torch.manual_seed(seed)
        self.config, self.batch = config, batch
        self.unet = build_unet(config).train()
        self.scheduler = DDPMScheduler(**(schedule or NoiseSchedule()).scheduler_config())
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=lr)
        self.pool = to_model_space(images, config.pad)  # (N, C, S, S) in [-1, 1], converted once
        self.labels = labels.long()
        self.gen = torch.Generator().manual_seed(seed + 1)

    def __call__(self) -> float:
        g = self.gen
        idx = torch.randint(0, len(self.pool), (self.batch,), generator=g)
        x0 = self.pool[idx]
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (self.batch,), generator=g)
        x_t = self.scheduler.add_noise(x0, noise, t)
        extra = {"class_labels": self.labels[idx]} if self.config.cond == "class" else {}
        loss = F.mse_loss(self.unet(x_t, t, **extra).sample, noise)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())
