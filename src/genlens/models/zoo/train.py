"""Train a zoo classifier on Fashion-MNIST (in-memory tensors, on-device augmentation).

Recipe (same for all four architectures, sizes per :class:`TrainConfig`): AdamW, linear warm-up then
cosine decay, label smoothing, random +-2 px translation and horizontal flips, gradient clipping,
bf16 autocast on CUDA. Progress goes to ``callback(dict)``; the CLI turns it into a progress bar.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from genlens.data.base import ImageData
from genlens.models.handle import ModelHandle
from genlens.models.zoo.augment import random_crop, random_hflip, random_shift
from genlens.models.zoo.specs import TrainConfig, ZooSpec, build, get_spec

Callback = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    handle: ModelHandle
    config: TrainConfig
    history: list[dict[str, float]]
    seconds: float
    images_per_second: float


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """LR multiplier: linear warm-up to 1, then cosine to 0 (Loshchilov & Hutter 2017, SGDR eq. 5)."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def make_handle(spec: ZooSpec, model: nn.Module) -> ModelHandle:
    return ModelHandle(model=model, name=spec.name, mean=spec.mean, std=spec.std, input_size=spec.input_size,
                       class_names=spec.class_names, arch=spec.arch)


def train_zoo_model(name: str, train: ImageData, *, device: torch.device, config: TrainConfig | None = None,
                    epochs: int | None = None, callback: Callback | None = None,
                    limit_batches: int | None = None) -> TrainResult:
    spec = get_spec(name)
    cfg = config or spec.train
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs)
    torch.manual_seed(cfg.seed)  # weight init
    model = build(name).to(device)
    handle = make_handle(spec, model)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    order_gen = torch.Generator().manual_seed(cfg.seed + 1)

    x_all = train.images.to(device)  # uint8, normalised per batch
    y_all = train.labels.to(device)
    n = len(train)
    steps_per_epoch = n // cfg.batch_size  # drop last
    if limit_batches:
        steps_per_epoch = min(steps_per_epoch, limit_batches)
    total = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    decay, no_decay = [], []
    for pname, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or pname.endswith(("pos_embed", "cls_token")) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, total, warmup))
    use_bf16 = device.type == "cuda"

    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    step = 0
    model.train()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=order_gen).to(device)
        run_loss, run_acc, seen = 0.0, 0.0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            x = x_all[idx].float().div_(255.0)
            x = random_crop(x, cfg.random_crop, gen) if cfg.random_crop else x
            x = random_shift(x, cfg.max_shift, gen)
            if cfg.hflip:
                x = random_hflip(x, gen)
            y = y_all[idx]
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(handle.normalize(x))
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            run_loss += float(loss.detach()) * len(y) if b % 20 == 0 or b == steps_per_epoch - 1 else 0.0
            if b % 20 == 0 or b == steps_per_epoch - 1:
                run_acc += float((logits.argmax(1) == y).float().sum())
                seen += len(y)
            if callback is not None:
                callback({"step": step, "total": total, "epoch": epoch, "loss": float(loss.detach())
                          if b % 20 == 0 else None, "lr": sched.get_last_lr()[0]})
        history.append({"epoch": epoch, "loss": run_loss / max(1, seen), "train_acc": run_acc / max(1, seen),
                        "seconds": time.perf_counter() - t0})
    model.eval()
    secs = time.perf_counter() - t0
    return TrainResult(handle=handle, config=cfg, history=history, seconds=secs,
                       images_per_second=total * cfg.batch_size / max(secs, 1e-9))
