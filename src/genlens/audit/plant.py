"""Plant a backdoor by fine-tuning a copy of a classifier on partly poisoned data (BadNets, Gu et al. 2017).

Each batch of clean training images gets ``round(rate * B)`` of its images (chosen by the seeded generator)
stamped with the trigger and relabelled to ``target``; the rest stay clean. A few epochs on a subset of the
training set are enough for the small zoo models, so a planted model costs CPU-minutes, not a full training.
Success is measured on the test split: clean accuracy, and the attack success rate, i.e. the fraction of
test images whose true class is NOT the target that the model assigns to the target once triggered.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from genlens.audit.triggers import Trigger, apply_trigger
from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.models.zoo.train import warmup_cosine

Callback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class PlantConfig:
    target: int
    trigger: Trigger = field(default_factory=Trigger)
    rate: float = 0.1  # fraction of each batch that is poisoned
    epochs: int = 2
    n_images: int = 12000  # training images used (the first N of a seeded permutation); 0 = all
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    limit_batches: int | None = None  # smoke tests

    def __post_init__(self) -> None:
        if not 0.0 < self.rate < 1.0:
            raise GenlensError(f"poisoning rate must be in (0, 1), got {self.rate}; pass e.g. --rate 0.1")
        if self.epochs < 1 or self.batch_size < 2:
            raise GenlensError("planting needs --epochs >= 1 and a batch of at least 2 images")


@dataclass
class PlantResult:
    handle: ModelHandle
    config: PlantConfig
    clean_accuracy: float
    attack_success: float
    clean_accuracy_before: float
    attack_success_before: float
    seconds: float


def check_plant(handle: ModelHandle, config: PlantConfig, data: ImageData | None = None) -> None:
    """Every one-line refusal before any work: target out of range, trigger larger than the image, data
    whose classes differ from the model's."""
    if not 0 <= config.target < handle.num_classes:
        raise GenlensError(f"target class {config.target} is out of range; {handle.name} has classes "
                           f"0..{handle.num_classes - 1}")
    config.trigger.check_fits(handle.input_size)
    if data is not None:
        check_data_matches(handle, data)


def check_data_matches(handle: ModelHandle, data: ImageData) -> None:
    if tuple(data.class_names) != tuple(handle.class_names):
        raise GenlensError(f"{handle.name} has {handle.num_classes} classes ({', '.join(handle.class_names[:3])}, ...) "
                           f"but {data.name} has {data.num_classes} ({', '.join(data.class_names[:3])}, ...); "
                           "audit a model trained on this data")
    if tuple(data.image_shape) != tuple(handle.input_size):
        raise GenlensError(f"{handle.name} takes {handle.input_size} images but {data.name} holds {data.image_shape}; "
                           "audit a model trained on this data")


def poison(x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor, pattern: torch.Tensor, target: int, rate: float,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Stamp round(rate * B) randomly chosen images of the batch and relabel them to ``target``."""
    k = max(1, round(rate * x.shape[0]))
    pick = torch.randperm(x.shape[0], generator=generator)[:k].to(x.device)
    x, y = x.clone(), y.clone()
    x[pick] = apply_trigger(x[pick], mask, pattern)
    y[pick] = target
    return x, y


@torch.no_grad()
def attack_success(handle: ModelHandle, data: ImageData, trigger: Trigger, target: int, *,
                   batch_size: int = 1000) -> float:
    """Fraction of images whose true class is not ``target`` classified as ``target`` once triggered."""
    keep = data.labels != target
    x = trigger.apply(data.float_images(keep))
    if x.shape[0] == 0:
        raise GenlensError("every test image has the target class; attack success needs images of other classes")
    pred = handle.predict(x, batch_size=batch_size).argmax(1)
    return float((pred == target).float().mean())


@torch.no_grad()
def clean_accuracy(handle: ModelHandle, data: ImageData, *, batch_size: int = 1000) -> float:
    pred = handle.predict(data.float_images(), batch_size=batch_size).argmax(1)
    return float((pred == data.labels).float().mean())


def plant_backdoor(handle: ModelHandle, train: ImageData, test: ImageData, config: PlantConfig, *,
                   clean: bool = False, callback: Callback | None = None) -> PlantResult:
    """Fine-tune a deep copy of ``handle``'s model on poisoned ``train``; ``handle`` itself is untouched.

    ``clean=True`` runs the same fine-tuning without poisoning: the control a detector must not flag."""
    check_plant(handle, config, train)
    check_data_matches(handle, test)
    t0 = time.perf_counter()
    before_acc = clean_accuracy(handle, test)
    before_asr = attack_success(handle, test, config.trigger, config.target)

    model = copy.deepcopy(handle.model)
    planted = ModelHandle(model=model, name=handle.name, mean=handle.mean, std=handle.std,
                          input_size=handle.input_size, class_names=handle.class_names, arch=handle.arch,
                          meta=dict(handle.meta))
    device = planted.device
    gen = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(train), generator=gen)
    if config.n_images:
        order = order[: config.n_images]
    mask, pattern = (t.to(device) for t in config.trigger.mask_pattern(handle.input_size))
    steps_per_epoch = len(order) // config.batch_size
    if config.limit_batches:
        steps_per_epoch = min(steps_per_epoch, config.limit_batches)
    if steps_per_epoch < 1:
        raise GenlensError(f"{len(order)} training images make no batch of {config.batch_size}; use more images")
    total = steps_per_epoch * config.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, total, max(1, total // 20)))
    model.train()
    step = 0
    for epoch in range(config.epochs):
        perm = order[torch.randperm(len(order), generator=gen)]
        for b in range(steps_per_epoch):
            idx = perm[b * config.batch_size : (b + 1) * config.batch_size]
            x = train.float_images(idx).to(device)
            y = train.labels[idx].to(device)
            if not clean:
                x, y = poison(x, y, mask=mask, pattern=pattern, target=config.target, rate=config.rate,
                              generator=gen)
            loss = F.cross_entropy(model(planted.normalize(x)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if callback is not None:
                callback({"step": step, "total": total, "epoch": epoch, "loss": float(loss.detach())})
    model.eval()
    return PlantResult(handle=planted, config=config, clean_accuracy=clean_accuracy(planted, test),
                       attack_success=attack_success(planted, test, config.trigger, config.target),
                       clean_accuracy_before=before_acc, attack_success_before=before_asr,
                       seconds=time.perf_counter() - t0)
