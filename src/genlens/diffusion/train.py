"""Train a denoiser with the ε-prediction DDPM loss on the shared resumable loop.

L = E_{x_0, t, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t, c)‖² (Ho et al. 2020, eq. 14, "L_simple"), with the
condition c replaced by the null condition with probability ``cond_dropout`` (classifier-free guidance
training, Ho & Salimans 2022). Sampling uses the EMA weights. Every random draw of the loss (t, ε, the
dropout mask, the caption of each image) comes from one ``torch.Generator`` whose state the checkpoints
keep, so a stopped run resumes exactly (:func:`genlens.training.train`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genlens.diffusion.config import TRAIN_MIGRATION, UNET_MIGRATION, DiffusionTrainConfig
from genlens.diffusion.schedule import q_sample
from genlens.diffusion.unet import Denoiser, to_model_space
from genlens.errors import GenlensError
from genlens.training import EMA, TrainConfig, cosine_with_warmup, train
from genlens.utils.config_io import to_dict


def warm_start(model: Denoiser, config: DiffusionTrainConfig) -> None:
    """Copy the weights of the saved model ``config.init_from`` into ``model`` (fine-tuning, or a second
    training phase with a fresh LR schedule). The folder's manifest is verified; its UNet and noise schedule
    must equal this run's, else a one-line error names the fields that differ."""
    from genlens.diffusion.io import load_diffusion

    bundle = load_diffusion(config.init_from)
    theirs, ours = to_dict(bundle.model.config), to_dict(config.unet)
    same_weights = {"pooled_token"}  # changes what the prompt tokens hold, not a weight shape
    diff = sorted(k for k in ours if ours[k] != theirs.get(k) and k not in same_weights)
    if bundle.schedule != config.schedule:
        diff.append("schedule")
    if diff:
        raise GenlensError(f"--init-from {config.init_from}: the saved model differs from this run in "
                           f"{', '.join(diff)}; train with the same --size/--cond/--beta-schedule")
    model.load_state_dict(bundle.model.state_dict())


@dataclass
class CaptionTable:
    """Token embeddings of training captions and the group each caption describes (text conditioning).

    A group is a class (Fashion-MNIST's caption rounds: each step an image draws a random caption of its class)
    or, with ``per_image``, an image (data with its own captions, e.g. a captioned folder: each image draws one
    of its own captions). Per image, ``groups`` is the number of images; an image with no caption has an empty
    group and trains with the null condition (:meth:`captioned`)."""

    tokens: torch.Tensor  # (M, T, D)
    mask: torch.Tensor  # (M, T) bool
    labels: torch.Tensor  # (M,) long: the class of each caption, or (per_image) the index of its image
    # What the table was made of (encoder and a hash of the caption texts and labels); a text run keeps it in
    # its checkpoints, so a resume after the captions change stops and says so instead of silently training on
    # another caption set.
    source: str = ""
    per_image: bool = False
    groups: int = 0  # per_image: how many images the labels index (images past the last captioned one count)

    def __post_init__(self) -> None:
        order = torch.argsort(self.labels, stable=True)
        self.tokens, self.mask, self.labels = self.tokens[order], self.mask[order].bool(), self.labels[order].long()
        n = max(int(self.labels.max()) + 1 if self.labels.numel() else 0, self.groups)
        self.count = torch.bincount(self.labels, minlength=n)  # captions per class (per image)
        self.offset = torch.cumsum(self.count, 0) - self.count
        if not self.per_image and (self.count == 0).any():
            raise GenlensError("every class needs at least one caption")
        if self.labels.numel() == 0:
            raise GenlensError("the caption table is empty; caption at least one image")

    def pick(self, labels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One random caption of each image's class (per image: of the image ``labels`` indexes): (B, T, D),
        (B, T). An image without a caption gets some row; train it with the null condition (:meth:`captioned`)."""
        labels = labels.cpu()
        u = torch.rand(labels.shape[0], generator=generator)
        idx = self.offset[labels] + (u * self.count[labels]).long().clamp_max(self.count[labels] - 1)
        idx = idx.clamp(0, self.labels.numel() - 1)  # only empty groups (uncaptioned images) are moved
        return self.tokens[idx], self.mask[idx]

    def captioned(self, labels: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the group ``labels`` names has a caption (False: an uncaptioned image)."""
        return self.count[labels.cpu()] > 0

    def record(self) -> dict[str, Any]:
        """What a trained folder's metrics say about its captions: source and count (per image: also how
        many images there are and how many have no caption)."""
        out: dict[str, Any] = {"source": self.source, "count": int(self.labels.numel())}
        if self.per_image:
            out |= {"from": "images", "images": int(self.count.numel()),
                    "uncaptioned": int((self.count == 0).sum())}
        return out


def diffusion_loss(model: torch.nn.Module, x0: torch.Tensor, cond: Any, *, alphas_cumprod: torch.Tensor,
                   generator: torch.Generator, cond_dropout: float, null: torch.Tensor | None = None) -> torch.Tensor:
    """L_simple for a batch ``x0`` (B, 1, 32, 32) in [-1, 1]; draws t, ε and the dropout mask from ``generator``.
    ``null`` (B,) bool: rows that always take the null condition (images without a caption), whatever the draw."""
    b = x0.shape[0]
    t = torch.randint(0, alphas_cumprod.shape[0], (b,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    drop = torch.rand(b, generator=generator) < cond_dropout
    if null is not None:
        drop = drop | null.cpu()
    t, noise, drop = t.to(x0.device), noise.to(x0.device), drop.to(x0.device)
    x_t = q_sample(x0, noise, t, alphas_cumprod)
    eps = model(x_t, t, cond, drop=drop if cond is not None else None)
    return F.mse_loss(eps.float(), noise.float())


def check_scenes(scenes: Any, images: torch.Tensor, config: DiffusionTrainConfig) -> None:
    """A layout model trains on scenes with ground truth that matches its classes and object count."""
    if scenes is None or not hasattr(scenes, "classes"):
        raise GenlensError("layout conditioning needs scenes with ground-truth layouts; train with "
                           "--data fashion-scenes (or fashion-scenes-rgb)")
    if len(scenes) != len(images):
        raise GenlensError(f"{len(images)} images but {len(scenes)} scenes; pass the scenes the images came from")
    if int(scenes.classes.max()) >= config.unet.num_classes or int(scenes.counts.max()) > config.unet.max_items:
        raise GenlensError(f"the scenes hold classes up to {int(scenes.classes.max())} and up to "
                           f"{int(scenes.counts.max())} objects, but the denoiser takes {config.unet.num_classes} "
                           f"classes and {config.unet.max_items} objects")


def legacy_run_config(config: DiffusionTrainConfig) -> dict[str, Any]:
    """``to_dict(config)`` without the keys added later (the migrations' ``added``) while they hold the value runs
    had before them: a run started before a key existed keeps its identity, so it still resumes."""
    out = to_dict(config)
    # The caption round never enters the identity: a text run's "captions" key (the caption set's hash) already
    # names what it trains on, and other runs use no captions.
    out.pop("caption_round", None)
    for key, value in TRAIN_MIGRATION.added.items():
        if out.get(key) == value:
            out.pop(key)
    for key, value in UNET_MIGRATION.added.items():
        if out["unet"].get(key) == value:
            out["unet"].pop(key)
    return out


@dataclass
class DiffusionResult:
    model: Denoiser  # the EMA weights, eval mode
    config: DiffusionTrainConfig
    history: list[dict[str, Any]]
    seconds: float


def train_diffusion(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    config: DiffusionTrainConfig,
    captions: CaptionTable | None = None,
    scenes: Any = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    device: str = "auto",
    checkpoint_every: int = 0,
    stop_at_step: int | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> DiffusionResult:
    """Train on uint8 (N, C, H, W) ``images`` with integer ``labels``; return the EMA model. A layout model
    (``config.unet.cond == "layout"``) takes ``scenes`` (:class:`~genlens.data.scenes.SceneData`, the images'
    ground truth): each batch's layouts come from it (:func:`genlens.data.layout.scene_layouts`).

    ``callback(record)`` gets the loop's record plus ``"ema_model"`` (the EMA denoiser, eval mode): sample from
    it under its own generator (and ``torch.random.fork_rng``) so the training draws stay exact."""
    kind = config.unet.cond
    if kind == "text" and captions is None:
        raise GenlensError("text conditioning needs a caption table (see genlens.diffusion.text.caption_table)")
    per_image = kind == "text" and captions.per_image
    if kind == "text" and per_image != (config.captions_from == "images"):
        raise GenlensError(f"the run says captions_from={config.captions_from!r} but the caption table is "
                           f"{'per image' if per_image else 'per class'}; build it with caption_table(data, ...)")
    if per_image and captions.count.numel() != len(images):
        raise GenlensError(f"the caption table covers {captions.count.numel()} images but there are {len(images)}; "
                           "build it from the same data (genlens.diffusion.text.caption_table)")
    if kind == "class" and int(labels.max()) >= config.unet.num_classes:
        raise GenlensError(f"labels go up to {int(labels.max())} but the model has {config.unet.num_classes} classes")
    if kind == "layout":
        check_scenes(scenes, images, config)
        if config.hflip:
            raise GenlensError("--hflip would mirror scenes away from their layouts; drop it with --cond layout")
    size = images.shape[-1] + 2 * config.unet.pad
    if (images.shape[1], size) != (config.unet.in_channels, config.unet.sample_size):
        raise GenlensError(f"images {tuple(images.shape[1:])} padded by {config.unet.pad} do not fit the denoiser "
                           f"({config.unet.in_channels} channels, {config.unet.sample_size} px); match --size/--data")
    torch.manual_seed(config.seed)  # the initial weights
    model = Denoiser(config.unet)
    if config.init_from:
        warm_start(model, config)
    ema = EMA(model, decay=config.ema_decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = cosine_with_warmup(optimizer, total_steps=config.steps,
                                   warmup_steps=min(config.warmup_steps, config.steps - 1))
    alphas_cumprod = config.schedule.alphas_cumprod()
    gen = torch.Generator().manual_seed(config.seed + 1)

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch[0], batch[1]
        if config.hflip:  # drawn before the loss's draws, from the same checkpointed generator: resume is exact
            flip = (torch.rand(x.shape[0], generator=gen) < 0.5).to(x.device)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        x0 = to_model_space(x, config.unet.pad)  # (B, C, 32, 32) in [-1, 1]
        if kind == "class":
            cond = y
        elif kind == "layout":  # batch[2]: the scenes' indices; their ground-truth layouts as channels
            from genlens.data.layout import scene_layouts
            from genlens.diffusion.layout import layout_channels

            cond = layout_channels(scene_layouts(scenes, batch[2].cpu()), config.unet).to(x0.device)
        elif kind == "text":  # per image: batch[2] holds the images' indices, each draws one of its own captions
            key = batch[2].cpu() if per_image else y
            tokens, mask = captions.pick(key, gen)
            cond = (tokens.to(x0.device), mask.to(x0.device))
        else:
            cond = None
        null = ~captions.captioned(key) if per_image else None  # uncaptioned images: the null condition
        return diffusion_loss(net, x0, cond, alphas_cumprod=alphas_cumprod, generator=gen,
                              cond_dropout=config.cond_dropout, null=null)

    tcfg = TrainConfig(total_steps=config.steps, batch_size=config.batch_size, seed=config.seed,
                       grad_clip=config.grad_clip, mixed_precision=config.mixed_precision, device=device,
                       checkpoint_every=checkpoint_every)

    def report(record: dict[str, Any]) -> None:  # the EMA model rides along: sample grids during training
        callback({**record, "ema_model": ema.ema_model})

    run_config = legacy_run_config(config)
    if kind == "text":
        run_config["captions"] = captions.source or "unnamed caption table"
    start = time.perf_counter()
    data = (images, labels, torch.arange(len(images))) if kind == "layout" or per_image else (images, labels)
    history = train(model=model, optimizer=optimizer, loss_fn=loss_fn, data=data, config=tcfg,
                    scheduler=scheduler, ema=ema, run_dir=run_dir, resume=resume, run_config=run_config,
                    stop_at_step=stop_at_step, generators={"diffusion": gen},
                    callback=report if callback is not None else None)
    return DiffusionResult(model=ema.ema_model.eval(), config=config, history=history,
                           seconds=time.perf_counter() - start)
