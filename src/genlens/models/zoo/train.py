"""Train a zoo classifier on Fashion-MNIST (in-memory tensors, on-device augmentation).

Recipe (same for all four architectures, sizes per :class:`TrainConfig`): AdamW, linear warm-up then
cosine decay, label smoothing, random +-2 px translation and horizontal flips, gradient clipping,
bf16 autocast on CUDA. Progress goes to ``callback(dict)``; the CLI turns it into a progress bar.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from genlens.data.base import ImageData
from genlens.models.handle import ModelHandle
from genlens.models.zoo.augment import augmented_batch
from genlens.models.zoo.specs import TrainConfig, ZooSpec, build, get_spec
from genlens.training.schedule import CosineWarmup

Callback = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    handle: ModelHandle
    config: TrainConfig
    history: list[dict[str, float]]
    seconds: float
    images_per_second: float


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """LR multiplier of :class:`CosineWarmup` as a plain function (kept for bench scripts)."""
    return CosineWarmup(total_steps=max(1, total), warmup_steps=min(warmup, max(1, total)))(step)


def adamw_warmup_cosine(model: nn.Module, *, lr: float, weight_decay: float, total: int, warmup: int,
                        no_decay_names: tuple[str, ...] = ()) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW without weight decay on biases, norms and parameters named ``*no_decay_names``, and a linear
    warm-up + cosine schedule (warm-up capped at the run's length): the recipe the zoo and the CLIP model share."""
    decay, no_decay = [], []
    for pname, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or pname.endswith(no_decay_names) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.999))
    factor = CosineWarmup(total_steps=max(1, total), warmup_steps=min(warmup, max(1, total)))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def clipped_step(loss: torch.Tensor, model: nn.Module, opt: torch.optim.Optimizer,
                 sched: torch.optim.lr_scheduler.LRScheduler, *, grad_clip: float) -> None:
    """Backward, clip the gradient norm (if ``grad_clip``), step the optimizer and the schedule."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    sched.step()


def folder_contents(spec: ZooSpec, result: TrainResult, report: Any, *, device: torch.device
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config.json, manifest metrics) of a trained zoo model; ``report`` is its test-set EvalReport."""
    from genlens.utils.config_io import to_dict

    metrics = {"top1": report.top1, "top5": report.top5, "per_class": report.per_class, "test_images": report.n,
               "train_seconds": round(result.seconds, 1), "train_images_per_second": round(result.images_per_second, 1),
               "device": str(device), "history": result.history}
    config = {"kind": "classifier", "name": spec.name, "spec": to_dict(spec), "train": to_dict(result.config)}
    return config, metrics


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

    opt, sched = adamw_warmup_cosine(model, lr=cfg.lr, weight_decay=cfg.weight_decay, total=total, warmup=warmup,
                                     no_decay_names=("pos_embed", "cls_token"))
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
            x = augmented_batch(x_all, idx, max_shift=cfg.max_shift, hflip=cfg.hflip, crop=cfg.random_crop,
                                generator=gen)
            y = y_all[idx]
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(handle.normalize(x))
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            clipped_step(loss, model, opt, sched, grad_clip=cfg.grad_clip)
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
