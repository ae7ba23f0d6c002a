"""Training the object locator on real scenes' ground truth (CenterNet, Zhou et al. 2019).

Targets (section 3 of the paper): for each object of class c with centre p (pixels), the low-resolution
centre is p / R and its cell p~ = floor(p / R); the class-c heatmap holds exp(-|q - p~|^2 / (2 sigma^2))
around each of its objects (maximum where they overlap), sigma = max(sigma_min, side / (6 R)) from the
object's longest box side (the paper's size-adaptive radius, simplified). The offset target at p~ is
p / R - p~ in [0, 1)^2.

Loss: the penalty-reduced pixel-wise focal loss (eq. 1, alpha = 2, beta = 4), normalised by the number of
objects, plus the L1 offset loss at object cells only (eq. 2, weight 1).

Under ``accelerate launch`` with N processes the run is data-parallel: ``batch`` stays the global batch (a
multiple of N), every process draws the same global batch and trains on its contiguous slice of it, DDP
averages the gradients, and the two normalisers (objects, object cells) are the global batch's counts, so
the loss and its gradient are one process's over the whole batch (BatchNorm aside: each process normalises
with its slice's statistics).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.metrics.locator import Locator, LocatorConfig, build_locator, check_images
from genlens.training.distributed import make_accelerator, num_processes

ALPHA, BETA = 2.0, 4.0


def make_targets(classes: torch.Tensor, centres_px: torch.Tensor, sides_px: torch.Tensor,
                 config: LocatorConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """classes (B, K) (-1 absent), centres (B, K, 2) pixels, sides (B, K) pixels -> heatmap target
    (B, classes, h, w), offset target (B, 2, h, w) and the object-cell indicator (B, 1, h, w)."""
    r, n = config.stride, config.canvas // config.stride
    b, k = classes.shape
    low = centres_px / r  # (B, K, 2)
    cell = low.floor().clamp(0, n - 1)
    sigma = torch.clamp(sides_px / (6 * r), min=config.sigma_min)  # (B, K)
    grid = torch.arange(n, dtype=torch.float32)
    gx = torch.exp(-((grid[None, None] - cell[..., 0:1]) ** 2) / (2 * sigma[..., None] ** 2))  # (B, K, n)
    gy = torch.exp(-((grid[None, None] - cell[..., 1:2]) ** 2) / (2 * sigma[..., None] ** 2))
    blobs = gy[..., :, None] * gx[..., None, :]  # (B, K, n, n)
    present = classes >= 0
    heat = torch.zeros(b, config.num_classes, n, n)
    offset = torch.zeros(b, 2, n, n)
    mask = torch.zeros(b, 1, n, n)
    for j in range(k):
        rows = present[:, j].nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        c = classes[rows, j]
        heat[rows, c] = torch.maximum(heat[rows, c], blobs[rows, j])
        cx, cy = cell[rows, j, 0].long(), cell[rows, j, 1].long()
        offset[rows, :, cy, cx] = low[rows, j] - cell[rows, j]
        mask[rows, 0, cy, cx] = 1.0
    return heat, offset, mask


def focal_loss(logits: torch.Tensor, target: torch.Tensor, *, count: torch.Tensor | None = None) -> torch.Tensor:
    """CenterNet eq. 1: -1/N sum[(1 - p)^a log p at peaks (target == 1); (1 - Y)^b p^a log(1 - p) elsewhere],
    N = number of peaks (or ``count``: the global batch's, under several processes); computed from logits
    with log-sigmoid for stability."""
    p = logits.sigmoid()
    log_p, log_1mp = torch.nn.functional.logsigmoid(logits), torch.nn.functional.logsigmoid(-logits)
    pos = (target >= 1.0).float()
    pos_term = (1 - p) ** ALPHA * log_p * pos
    neg_term = (1 - target) ** BETA * p**ALPHA * log_1mp * (1 - pos)
    return -(pos_term.sum() + neg_term.sum()) / (pos.sum() if count is None else count).clamp(min=1.0)


def locator_loss(model: Locator, images: torch.Tensor, targets: tuple[torch.Tensor, ...],
                 accelerator: Any = None) -> dict[str, torch.Tensor]:
    """Focal + offset loss; with ``accelerator`` (several processes) the normalisers are summed over the
    processes and the loss scaled by their number, so DDP's mean of the gradients is the global batch's."""
    heat_t, off_t, mask = targets
    logits, off = model(images)
    peaks, cells, world = (heat_t >= 1.0).float().sum(), mask.sum(), 1
    if accelerator is not None:
        peaks, cells = accelerator.reduce(torch.stack([peaks, cells]), reduction="sum")
        world = accelerator.num_processes
    focal = focal_loss(logits, heat_t, count=peaks) * world
    l1 = ((off - off_t).abs() * mask).sum() / cells.clamp(min=1.0) * world  # eq. 2, object cells only
    return {"loss": focal + l1, "focal": focal, "offset": l1}


def scene_targets(data: Any, idx: torch.Tensor, config: LocatorConfig) -> tuple[torch.Tensor, ...]:
    """Targets for scenes ``idx`` of a :class:`~genlens.data.scenes.SceneData`."""
    boxes = data.boxes[idx].float()
    sides = torch.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    return make_targets(data.classes[idx], data.centres_px[idx], sides, config)


def train_locator(config: LocatorConfig, data: Any, *, steps: int, batch: int = 64, lr: float = 2e-3,
                  weight_decay: float = 1e-4, generator: torch.Generator | None = None,
                  callback: Callable[[dict[str, Any]], None] | None = None,
                  device: str | torch.device = "cpu") -> Locator:
    """Train a locator on scenes' ground truth (AdamW, cosine learning rate to zero; batches drawn by
    ``generator``); ``callback`` gets ``{"step", "steps", "loss", "focal", "offset", "seconds"}`` each step.
    Returns the model in eval mode."""
    if steps < 1:
        raise GenlensError(f"locator training needs at least 1 step, got {steps}")
    if data.canvas != config.canvas or data.image_shape[0] != config.channels:
        raise GenlensError(f"the scenes are {data.image_shape[0]}x{data.canvas}x{data.canvas} but the locator config "
                           f"says {config.channels}x{config.canvas}x{config.canvas}; make them agree")
    if int(data.counts.max()) > config.max_items:
        raise GenlensError(f"the scenes hold up to {int(data.counts.max())} objects but max_items is "
                           f"{config.max_items}; raise max_items")
    world = num_processes()
    if batch % world:
        raise GenlensError(f"--batch {batch} is not divisible by the {world} processes; give a global batch that is a "
                           f"multiple of {world}")
    accelerator = make_accelerator(device=device) if world > 1 else None  # joins the process group
    rank, local = (accelerator.process_index if accelerator else 0), batch // world
    generator = generator or torch.Generator().manual_seed(0)  # never split: it draws the global batches
    # the initial weights come from ``generator`` too, not the global RNG: the same seed, the same locator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        model = build_locator(config)
    model = model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + torch.cos(torch.tensor(s / steps * torch.pi))).item())
    net = accelerator.prepare(model) if accelerator else model  # DDP: averages the gradients of the processes
    start = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, len(data), (batch,), generator=generator)[rank * local : (rank + 1) * local]
        images = check_images(model, data.images[idx])
        targets = tuple(t.to(images.device) for t in scene_targets(data, idx, config))
        losses = locator_loss(net, images, targets, accelerator)
        logged = {k: v.detach() for k, v in losses.items()}
        if accelerator:  # the global batch's values, the same in every process (so all stop together on NaN)
            logged = dict(zip(logged, accelerator.reduce(torch.stack(list(logged.values())), reduction="mean")))
        if not torch.isfinite(logged["loss"]):
            raise GenlensError(f"locator loss became {logged['loss'].item()} at step {step}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        sched.step()
        if callback is not None:
            callback({"step": step + 1, "steps": steps, **{k: float(v) for k, v in logged.items()},
                      "seconds": time.perf_counter() - start})
    return model.eval()
