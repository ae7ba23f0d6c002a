"""Train a zoo classifier on Fashion-MNIST (in-memory tensors, on-device augmentation, the shared loop).

Recipe (same for all four architectures, sizes per :class:`TrainConfig`): AdamW, linear warm-up then
cosine decay, label smoothing, random +-2 px translation and horizontal flips, gradient clipping,
bf16 autocast on CUDA. Progress goes to ``callback(dict)``; the CLI turns it into a progress bar.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.models.zoo.augment import augmented_batch
from genlens.models.zoo.specs import TrainConfig, ZooSpec, get_spec
from genlens.training.checkpoint import find_checkpoint, read_checkpoint_state
from genlens.training.schedule import CosineWarmup
from genlens.utils.config_io import to_dict

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


def folder_contents(spec: ZooSpec, result: TrainResult, report: Any, *, device: torch.device,
                    data: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config.json, manifest metrics) of a trained zoo model; ``report`` is its test-set EvalReport, ``data``
    the :class:`~genlens.data.options.DataOptions` it trained on (config.json ``"data"``)."""
    metrics = {"top1": report.top1, "top5": report.top5, "per_class": report.per_class, "test_images": report.n,
               "train_seconds": round(result.seconds, 1), "train_images_per_second": round(result.images_per_second, 1),
               "device": str(device), "history": result.history}
    config = {"kind": "classifier", "name": spec.name, "spec": to_dict(spec), "train": to_dict(result.config)}
    if data is not None:
        config["data"] = to_dict(data)
    return config, metrics


def make_handle(spec: ZooSpec, model: nn.Module) -> ModelHandle:
    return ModelHandle(model=model, name=spec.name, mean=spec.mean, std=spec.std, input_size=spec.input_size,
                       class_names=spec.class_names, arch=spec.arch)


def train_zoo_model(name: str | ZooSpec, train: ImageData, *, device: torch.device, config: TrainConfig | None = None,
                    epochs: int | None = None, callback: Callback | None = None,
                    limit_batches: int | None = None, run_dir: str | os.PathLike | None = None,
                    resume: bool = False, checkpoint_every: int = 0) -> TrainResult:
    """Train zoo model ``name`` (or the sized architecture of a :class:`ZooSpec`) on ``train`` through the shared loop (:func:`genlens.training.train`): with a
    ``run_dir`` it checkpoints there (at the end, on Ctrl-C/SIGTERM, and every ``checkpoint_every`` steps)
    and ``resume=True`` continues bit-exactly. ``limit_batches`` (smoke tests) trains on the first
    ``limit_batches`` batches' worth of images, so each epoch is that many steps."""
    from genlens.models.zoo.train_arch import build_spec
    from genlens.training import TrainConfig as LoopConfig
    from genlens.training import train as run_loop

    spec = name if isinstance(name, ZooSpec) else get_spec(name)
    cfg = config or spec.train
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs)
    if cfg.epochs < 1:
        raise GenlensError(f"epochs must be at least 1, got {cfg.epochs}")
    torch.manual_seed(cfg.seed)  # weight init
    model = build_spec(spec).to(device)
    handle = make_handle(spec, model)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)

    images, labels = train.images.to(device), train.labels.to(device)  # uint8, normalised per batch
    if limit_batches:
        images, labels = images[: limit_batches * cfg.batch_size], labels[: limit_batches * cfg.batch_size]
    steps_per_epoch = len(images) // cfg.batch_size  # drop last
    if steps_per_epoch < 1:
        raise GenlensError(f"{len(images)} training images are fewer than one batch of {cfg.batch_size}; "
                           "add data or lower the batch size")
    total = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    opt, sched = adamw_warmup_cosine(model, lr=cfg.lr, weight_decay=cfg.weight_decay, total=total, warmup=warmup,
                                     no_decay_names=("pos_embed", "cls_token"))

    def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_u8, y = batch
        x = augmented_batch(x_u8, torch.arange(len(y), device=x_u8.device), max_shift=cfg.max_shift,
                            hflip=cfg.hflip, crop=cfg.random_crop, generator=gen)
        return F.cross_entropy(net(handle.normalize(x)).float(), y, label_smoothing=cfg.label_smoothing)

    def progress(record: dict[str, Any]) -> None:
        if callback is not None:
            extra = {} if "note" in record else {"total": total, "epoch": (record["step"] - 1) // steps_per_epoch}
            callback({**record, **extra})

    loop_cfg = LoopConfig(total_steps=total, batch_size=cfg.batch_size, seed=cfg.seed, grad_clip=cfg.grad_clip or None,
                          mixed_precision="bf16" if device.type == "cuda" else "no", device=str(device),
                          checkpoint_every=checkpoint_every)
    t0 = time.perf_counter()
    steps = run_loop(model=model, optimizer=opt, loss_fn=loss_fn, data=(images, labels), config=loop_cfg,
                     scheduler=sched, run_dir=run_dir, resume=resume, run_config=_run_config(spec, cfg),
                     generators={"augment": gen}, callback=progress)
    model.eval()
    secs = time.perf_counter() - t0
    history = _epoch_history(run_dir, steps, steps_per_epoch)
    return TrainResult(handle=handle, config=cfg, history=history, seconds=secs,
                       images_per_second=len(steps) * cfg.batch_size / max(secs, 1e-9))


def _run_config(spec: ZooSpec, cfg: TrainConfig) -> dict[str, Any]:
    """What a resumed run must match: the zoo name and recipe (a sized architecture: also its network)."""
    from genlens.models.zoo.train_arch import is_arch

    out = {"zoo": spec.name, "train": to_dict(cfg)}
    if is_arch(spec.name):
        out["spec"] = {"kwargs": dict(spec.kwargs), "input_size": list(spec.input_size),
                       "class_names": list(spec.class_names)}
    return out


def _epoch_history(run_dir: Any, steps: list[dict[str, Any]], steps_per_epoch: int) -> list[dict[str, float]]:
    """Mean training loss per epoch over the whole run (earlier segments from the checkpoint, when resumed)."""
    rows = [[r["step"], r["loss"]] for r in steps]
    if run_dir is not None and find_checkpoint(run_dir) is not None:
        rows = [r[:2] for r in read_checkpoint_state(run_dir).get("history", [])] or rows
    epochs: dict[int, list[float]] = {}
    for step, loss in rows:
        epochs.setdefault((int(step) - 1) // steps_per_epoch, []).append(float(loss))
    return [{"epoch": e, "loss": sum(v) / len(v)} for e, v in sorted(epochs.items())]
