"""Contrastive training of :class:`FmnistClip`'s image tower against the frozen sentence encoder.

Each training image gets one caption drawn from its class's caption templates
(:func:`genlens.data.captions.class_captions`); all captions are encoded once (``encode_cached``).
The loss is the symmetric InfoNCE of CLIP (Radford et al. 2021, Figure 3) over the batch's B images and B
captions, with multi-positive soft targets: every caption of the image's class is a positive, weighted
1/k for k positives (as in SupCon, Khosla et al. 2020, eq. 2, applied to image-text pairs). The text
tower is locked (LiT, Zhai et al. 2022, with the roles of the towers swapped), so only the CNN, the
projection and the temperature learn. Augmentation, optimiser and schedule are the zoo trainer's.

Under ``accelerate launch`` with N processes the run is data-parallel: ``batch_size`` stays the global batch
(a multiple of N), each process encodes its contiguous slice of every global batch (the same permutation
as one process) and draws its own augmentation and captions (:func:`split_generators`), and the loss is
the one-process loss over the whole global batch (see :func:`_global_batch`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlens.clip.model import FmnistClip, FmnistClipConfig
from genlens.data.base import ImageData
from genlens.data.captions import NOUNS, class_captions, held_out_prompts
from genlens.errors import GenlensError
from genlens.models.zoo.augment import augmented_batch
from genlens.models.zoo.train import adamw_warmup_cosine, clipped_step
from genlens.training.distributed import make_accelerator, num_processes, split_generators
from genlens.utils.config_io import to_dict
from genlens.utils.modes import eval_mode

Callback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, kw_only=True)
class ClipTrainConfig:
    """The shipped recipe; sized to train in a few minutes on 2 CPU cores (stored in config.json)."""

    epochs: float = 2.0  # may be fractional: the run stops after epochs * (n // batch_size) steps
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    max_shift: int = 2
    hflip: bool = True
    grad_clip: float = 1.0
    limit_images: int | None = None  # train on the first N images only (smoke tests)
    captions_per_class: int | None = 128  # every k-th of the ~1,000 captions of each class; None: all
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.batch_size < 2:
            raise GenlensError("clip training needs epochs > 0 and batch_size >= 2 (contrastive pairs)")


@dataclass
class ClipTrainResult:
    model: FmnistClip
    config: ClipTrainConfig
    history: list[dict[str, float]]
    seconds: float
    images_per_second: float


def multi_positive_clip_loss(img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor,
                             scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE with soft targets. img, txt: (B, D) unit-norm; labels (B,)."""
    logits = scale * img @ txt.T  # (B, B): image i vs caption j
    pos = (labels[:, None] == labels[None, :]).float()  # (B, B), symmetric, diagonal = 1
    target = pos / pos.sum(1, keepdim=True)
    i2t = -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
    t2i = -(target * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return 0.5 * (i2t + t2i)


def caption_bank(encoder, *, per_class: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All training captions (or ``per_class`` of each class, evenly spread) encoded once: (M, D) embeddings,
    per-class offset (K,) and count (K,)."""
    from genlens.text.encoder import encode_cached

    texts, labels = [], []
    for label in range(len(NOUNS)):  # grouped by class, in label order
        caps = class_captions(label)
        if per_class and per_class < len(caps):
            caps = [caps[i * len(caps) // per_class] for i in range(per_class)]  # evenly spread, sorted order
        texts += caps
        labels += [label] * len(caps)
    emb = encode_cached(encoder, texts)
    lab = torch.tensor(labels)
    counts = torch.bincount(lab)
    offsets = torch.cumsum(counts, 0) - counts
    return emb, offsets, counts


class _ImageTower(nn.Module):
    """What a step runs through DDP: the image embeddings and the temperature (every trainable parameter)."""

    def __init__(self, clip: FmnistClip) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.clip.encode_image(x), self.clip.scale()


def _global_batch(img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor,
                  accelerator: Any) -> tuple[torch.Tensor, ...]:
    """Every process's (img, txt, labels) slices joined in rank order: the global batch of one process.

    The image features are gathered WITH their gradient (``torch.distributed.nn.functional.all_gather``), as
    CLIP trains (Radford et al. 2021: the similarity matrix over the whole batch across workers), so the
    negatives are the global batch and the recipe does not change with the process count (local negatives
    would shrink them to B / N). Every process then computes the same loss L over all B pairs; the gather's
    backward sums the processes' gradients, so each holds N x dL/d(its slice), and DDP's mean over the
    processes gives exactly one process's gradient dL/dtheta. Captions and labels carry no gradient."""
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(img)), accelerator.gather(txt), accelerator.gather(labels)


def train_fmnist_clip(train: ImageData, *, device: torch.device, config: ClipTrainConfig | None = None,
                      model_config: FmnistClipConfig | None = None, callback: Callback | None = None,
                      max_steps: int | None = None) -> ClipTrainResult:
    cfg = config or ClipTrainConfig()
    world = num_processes()
    if cfg.batch_size % world:
        raise GenlensError(f"--batch {cfg.batch_size} is not divisible by the {world} processes; give a global batch "
                           f"that is a multiple of {world}")
    accelerator = make_accelerator(device=device) if world > 1 else None  # joins the process group
    rank, local = (accelerator.process_index if accelerator else 0), cfg.batch_size // world
    torch.manual_seed(cfg.seed)
    model = FmnistClip(model_config).to(device)
    emb, offsets, counts = caption_bank(model.text_encoder(), per_class=cfg.captions_per_class)
    emb, offsets, counts = emb.to(device), offsets.to(device), counts.to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    if world > 1:  # each process draws its own augmentation and captions; rank 0 keeps the one-process stream
        split_generators({"augment": gen}, rank)
    order_gen = torch.Generator().manual_seed(cfg.seed + 1)  # never split: every process needs the same order

    data = train.take(cfg.limit_images) if cfg.limit_images else train
    x_all, y_all = data.images.to(device), data.labels.to(device)
    n = len(data)
    per_epoch = max(1, n // cfg.batch_size)
    total = max(1, round(cfg.epochs * per_epoch))
    if max_steps is not None:
        total = min(total, max_steps)

    opt, sched = adamw_warmup_cosine(model, lr=cfg.lr, weight_decay=cfg.weight_decay, total=total,
                                     warmup=min(cfg.warmup_steps, total // 2))
    tower = _ImageTower(model)
    net = accelerator.prepare(tower) if accelerator else tower  # DDP: averages the gradients of the processes

    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    net.train()  # the model too
    step, epoch = 0, 0
    while step < total:
        perm = torch.randperm(n, generator=order_gen).to(device)
        run_loss, run_acc, seen = 0.0, 0.0, 0
        for b in range(per_epoch):
            if step >= total:
                break
            start = b * cfg.batch_size + rank * local
            idx = perm[start : start + local]  # this process's slice of the global batch
            x = augmented_batch(x_all, idx, max_shift=cfg.max_shift, hflip=cfg.hflip, generator=gen)
            y = y_all[idx]
            u = torch.rand(len(y), generator=gen, device=gen.device).to(device)
            cap = offsets[y] + (u * counts[y]).long().clamp_max(counts[y] - 1)  # one random caption per image
            img, scale = net(x)  # (b, 384) unit-norm, b = B / processes
            txt = emb[cap]
            if accelerator:
                img, txt, y = _global_batch(img, txt, y, accelerator)  # (B, 384), (B, 384), (B,)
            loss = multi_positive_clip_loss(img, txt, y, scale)
            clipped_step(loss, model, opt, sched, grad_clip=cfg.grad_clip)
            step += 1
            with torch.no_grad():  # does the image pick a caption of its class among the batch's?
                acc = float((y[(img @ txt.T).argmax(1)] == y).float().mean())
            run_loss, run_acc, seen = run_loss + float(loss.detach()), run_acc + acc, seen + 1
            if callback is not None:
                callback({"step": step, "total": total, "epoch": epoch, "loss": float(loss.detach()), "acc": acc,
                          "lr": sched.get_last_lr()[0]})
        history.append({"epoch": epoch, "steps": seen, "loss": run_loss / max(1, seen),
                        "batch_caption_acc": run_acc / max(1, seen), "logit_scale": float(model.scale().detach()),
                        "seconds": time.perf_counter() - t0})
        epoch += 1
    model.eval()
    secs = time.perf_counter() - t0
    return ClipTrainResult(model=model, config=cfg, history=history, seconds=secs,
                           images_per_second=total * cfg.batch_size / max(secs, 1e-9))


# --- evaluation ----------------------------------------------------------------------------------------
ZERO_SHOT_TEMPLATE = "a photo of a {}"


def class_prompts(class_names: tuple[str, ...] | list[str]) -> list[str]:
    """"a photo of a t-shirt/top", ... (lower-cased class names)."""
    return [ZERO_SHOT_TEMPLATE.format(c.lower()) for c in class_names]


@torch.no_grad()
def embed_images(model, images: ImageData, *, batch_size: int = 1000) -> torch.Tensor:
    out = []
    with eval_mode(model.module):
        for i in range(0, len(images), batch_size):
            x = images.images[i : i + batch_size].to(model.device).float().div_(255.0)
            out.append(model.encode_image(x).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def evaluate_clip(model, test: ImageData) -> dict[str, Any]:
    """Zero-shot top-1 with "a photo of a {class}", and held-out prompt accuracy (retrieval: is the class
    prototype (mean image embedding) nearest to each held-out prompt the right class?)."""
    img = embed_images(model, test)  # (N, D)
    y = test.labels
    k = len(test.class_names)
    txt = model.encode_text(class_prompts(test.class_names)).float().cpu()  # (K, D)
    pred = (img @ txt.T).argmax(1)
    zero_shot = float((pred == y).float().mean())
    per_class = [float((pred[y == c] == c).float().mean()) for c in range(k)]

    protos = F.normalize(torch.stack([img[y == c].mean(0) for c in range(k)]), dim=-1)  # (K, D)
    texts, labels = held_out_prompts()
    held = model.encode_text(texts).float().cpu()  # (P, D)
    nearest = (held @ protos.T).argmax(1)
    held_acc = float((nearest == torch.tensor(labels)).float().mean())
    # the held-out prompts as a zero-shot classifier (mean of each class's prompts)
    cls_txt = F.normalize(torch.stack([held[torch.tensor(labels) == c].mean(0) for c in range(k)]), dim=-1)
    held_zero_shot = float(((img @ cls_txt.T).argmax(1) == y).float().mean())
    return {"zero_shot_top1": zero_shot, "zero_shot_per_class": per_class, "heldout_prompt_acc": held_acc,
            "heldout_prompt_hits": [bool(v) for v in (nearest == torch.tensor(labels)).tolist()],
            "heldout_zero_shot_top1": held_zero_shot, "test_images": len(test)}


def train_config_dict(result: ClipTrainResult, model: FmnistClip) -> dict[str, Any]:
    """config.json for a trained model folder."""
    return {"kind": "clip", "name": model.name, "model": to_dict(model.config), "train": to_dict(result.config),
            "zero_shot_template": ZERO_SHOT_TEMPLATE}

