"""Objectives: class, neuron, channel, direction, MLP hidden unit, text similarity and image priors.

All are losses to minimise, one value per image (see ``context.Objective``): maximising an activation
is minimising its negation. Activations come in three layouts, handled alike:
(N, C, H, W) conv maps, (N, T, D) token sequences (a ViT's class/prefix tokens are skipped where the
objective is about patches), (N, D) vectors.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genlens.errors import GenlensError
from genlens.inversion.context import Context, LayerRef, Objective
from genlens.models.handle import ModelHandle
from genlens.registry import Registry

OBJECTIVES: Registry[Objective] = Registry("objective")

Targets = Sequence[int | str] | torch.Tensor | int | str


# --- helpers ---------------------------------------------------------------------------------------
def target_rows(ctx: Context, targets: Targets) -> torch.Tensor:
    """Class indices for every augmented row (N,), from one target or one per image."""
    if isinstance(targets, torch.Tensor):
        idx = targets.reshape(-1).long().tolist()
    elif isinstance(targets, (int, str)):
        idx = [ctx.handle.class_index(targets)]
    else:
        idx = [ctx.handle.class_index(t) for t in targets]
    if len(idx) == 1:
        idx = idx * ctx.n_images
    if len(idx) != ctx.n_images:
        raise GenlensError(f"got {len(idx)} targets for {ctx.n_images} images; pass one target or one per image")
    return ctx.rows(torch.tensor(idx, device=ctx.batch.device))


def prefix_tokens(handle: ModelHandle) -> int:
    """Class/register tokens before the patch tokens (timm's ``num_prefix_tokens``; 0 for Mixer/ResMLP)."""
    return int(getattr(handle.model, "num_prefix_tokens", 0) or 0)


def patch_tokens(act: torch.Tensor, ctx: Context) -> torch.Tensor:
    """(N, T, D) -> (N, T - prefix, D): patch tokens only (the ViT class token excluded)."""
    return act[:, prefix_tokens(ctx.handle):]


def center_token(n_tokens: int) -> int:
    """Index of the central patch of a square token grid (row-major), else the middle of the sequence."""
    side = math.isqrt(n_tokens)
    return (side // 2) * side + side // 2 if side * side == n_tokens else n_tokens // 2


def reduce_unit(act: torch.Tensor, unit: int, ctx: Context) -> torch.Tensor:
    """Mean of one channel/unit over space or patch tokens: (N, ...) -> (N,)."""
    if act.ndim == 4:
        return act[:, unit].mean(dim=(1, 2))
    if act.ndim == 3:
        return patch_tokens(act, ctx)[..., unit].mean(dim=1)
    if act.ndim == 2:
        return act[:, unit]
    raise GenlensError(f"cannot read unit {unit} from an activation shaped {tuple(act.shape)}")


def _check_unit(act: torch.Tensor, unit: int, what: str) -> None:
    n_units = act.shape[1] if act.ndim == 4 else act.shape[-1]
    if not 0 <= unit < n_units:
        raise GenlensError(f"{what} has {n_units} units; unit {unit} is out of range 0..{n_units - 1}")


# --- class objectives --------------------------------------------------------------------------------
@OBJECTIVES.register("class_ce")
def class_ce(*, targets: Targets) -> Objective:
    """Cross-entropy of the target class (PII's only loss; DeepInversion's main term)."""

    def fn(ctx: Context) -> torch.Tensor:
        return ctx.per_image(F.cross_entropy(ctx.logits.float(), target_rows(ctx, targets), reduction="none"))

    return Objective(fn, name="class_ce")


@OBJECTIVES.register("class_logit")
def class_logit(*, targets: Targets) -> Objective:
    """Negated pre-softmax logit of the target class (DeepDream-style class visualisation)."""

    def fn(ctx: Context) -> torch.Tensor:
        logits = ctx.logits.float()
        return -ctx.per_image(logits.gather(1, target_rows(ctx, targets)[:, None])[:, 0])

    return Objective(fn, name="class_logit")


# --- activation objectives --------------------------------------------------------------------------
@OBJECTIVES.register("neuron")
def neuron(*, layer: LayerRef, unit: int, y: int | None = None, x: int | None = None,
           token: int | None = None) -> Objective:
    """One unit at one place: a conv channel at (y, x) (default the centre), a token unit (default the
    centre patch token, prefix tokens skipped), or a vector unit."""

    def fn(ctx: Context) -> torch.Tensor:
        a = ctx.act(layer)
        _check_unit(a, unit, f"layer '{layer}'")
        if a.ndim == 4:
            h, w = a.shape[-2:]
            v = a[:, unit, h // 2 if y is None else y, w // 2 if x is None else x]
        elif a.ndim == 3:
            p = patch_tokens(a, ctx)
            v = p[:, center_token(p.shape[1]) if token is None else token, unit]
        else:
            v = a[:, unit]
        return -ctx.per_image(v.float())

    return Objective(fn, name=f"neuron({layer}:{unit})", layers=(layer,))


@OBJECTIVES.register("channel")
def channel(*, layer: LayerRef, unit: int) -> Objective:
    """Mean of one conv channel over space (or one unit over patch tokens)."""

    def fn(ctx: Context) -> torch.Tensor:
        a = ctx.act(layer)
        _check_unit(a, unit, f"layer '{layer}'")
        return -ctx.per_image(reduce_unit(a, unit, ctx).float())

    return Objective(fn, name=f"channel({layer}:{unit})", layers=(layer,))


@OBJECTIVES.register("direction")
def direction(*, layer: LayerRef, vector: torch.Tensor, cosine: bool = False) -> Objective:
    """Dot product (or cosine) of the activation with ``vector`` in the layer's channel space, averaged
    over space / patch tokens (Olah et al. 2017, "Feature Visualization", directions)."""
    vector = torch.as_tensor(vector, dtype=torch.float32).reshape(-1)

    def fn(ctx: Context) -> torch.Tensor:
        a = ctx.act(layer).float()
        v = vector.to(a.device)
        if a.ndim == 4:
            a = a.permute(0, 2, 3, 1).flatten(1, 2)  # (N, HW, C)
        elif a.ndim == 3:
            a = patch_tokens(a, ctx)
        else:
            a = a[:, None]
        if a.shape[-1] != v.numel():
            raise GenlensError(f"direction has {v.numel()} values but layer '{layer}' has {a.shape[-1]} channels")
        dots = F.cosine_similarity(a, v.expand_as(a), dim=-1) if cosine else a @ v
        return -ctx.per_image(dots.mean(dim=1))

    return Objective(fn, name=f"direction({layer})", layers=(layer,))


@dataclass(frozen=True)
class MlpHidden:
    """The hidden layer of block ``block``'s MLP: ``blocks.N.mlp.act`` (ViT) or ``blocks.N.mlp_channels.act``
    (Mixer/ResMLP); ``site="fc1"`` takes the pre-activation output instead."""

    block: int
    site: str = "act"

    def __call__(self, handle: ModelHandle) -> str:
        layers = handle.named_layers()
        candidates = [f"blocks.{self.block}.{mlp}.{self.site}" for mlp in ("mlp", "mlp_channels")]
        for name in candidates:
            if name in layers:
                return name
        n_blocks = len({n.split(".")[1] for n in layers if n.startswith("blocks.") and n.count(".") >= 1})
        raise GenlensError(
            f"{handle.name} has no MLP hidden layer {' or '.join(candidates)}; "
            + (f"blocks go 0..{n_blocks - 1}" if n_blocks else "it has no transformer/mixer blocks")
        )

    def __str__(self) -> str:
        return f"blocks.{self.block}.mlp.{self.site}"


@OBJECTIVES.register("mlp_hidden_unit")
def mlp_hidden_unit(*, block: int, unit: int, site: str = "act") -> Objective:
    """Mean over patch tokens (class token excluded) of one hidden unit of a block's MLP: the ViT
    feature-visualisation objective of Ghiasi et al. 2022 (arXiv 2212.06727, section 3)."""
    ref = MlpHidden(block, site)

    def fn(ctx: Context) -> torch.Tensor:
        a = ctx.act(ref)
        _check_unit(a, unit, f"MLP of block {block}")
        return -ctx.per_image(reduce_unit(a, unit, ctx).float())

    return Objective(fn, name=f"mlp_hidden_unit({block}:{unit})", layers=(ref,))


@OBJECTIVES.register("text_cosine")
def text_cosine(*, embed: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor) -> Objective:
    """Negated cosine similarity between ``embed(augmented [0, 1] images)`` (N, D) and a target embedding
    (D,) or one per image (B, D), e.g. a CLIP text embedding (CLIP-only text inversion)."""
    target = torch.as_tensor(target, dtype=torch.float32)

    def fn(ctx: Context) -> torch.Tensor:
        e = embed(ctx.batch).float()
        t = target.to(e.device)
        t = t.expand(ctx.n_images, -1) if t.ndim == 1 else t
        return -ctx.per_image(F.cosine_similarity(e, ctx.rows(t), dim=-1))

    return Objective(fn, name="text_cosine")


# --- priors ------------------------------------------------------------------------------------------
def _image(ctx: Context, space: str) -> torch.Tensor:
    if space == "pixels":
        return ctx.image
    if space == "normalized":
        return ctx.normalized_image()
    raise GenlensError(f"unknown image space '{space}'; use pixels or normalized")


def tv_value(x: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """Total variation per image of (B, C, H, W) -> (B,).

    ``l1``: mean |dx| + mean |dy|; ``l2``: mean dx^2 + mean dy^2 (neighbour differences, Mahendran &
    Vedaldi 2015 eq. 2 with beta = 1 / 2, averaged); ``deepinversion``: the sum of the Frobenius norms of
    the horizontal, vertical and both diagonal differences (DeepInversion's ``loss_var_l2``).
    """
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    if kind == "l1":
        return dx.abs().flatten(1).mean(1) + dy.abs().flatten(1).mean(1)
    if kind == "l2":
        return dx.pow(2).flatten(1).mean(1) + dy.pow(2).flatten(1).mean(1)
    if kind == "deepinversion":
        d1 = x[..., 1:, :-1] - x[..., :-1, 1:]
        d2 = x[..., :-1, :-1] - x[..., 1:, 1:]
        return sum(d.flatten(1).norm(dim=1) for d in (dx, dy, d1, d2))
    raise GenlensError(f"unknown total-variation kind '{kind}'; use l1, l2 or deepinversion")


@OBJECTIVES.register("tv")
def total_variation(*, kind: str = "l2", space: str = "pixels") -> Objective:
    """Total variation of the parameterised images (see :func:`tv_value`)."""
    tv_value(torch.zeros(1, 1, 2, 2), kind)  # reject an unknown kind now, not mid-run
    return Objective(lambda ctx: tv_value(_image(ctx, space), kind), name=f"tv({kind})")


@OBJECTIVES.register("l2")
def l2(*, space: str = "normalized") -> Objective:
    """Per-image L2 norm of the images, by default in the model's normalised space (DeepInversion)."""
    return Objective(lambda ctx: _image(ctx, space).flatten(1).norm(dim=1), name="l2")


@OBJECTIVES.register("bn_stats")
def bn_stats(*, first_multiplier: float = 10.0) -> Objective:
    """DeepInversion's feature-distribution regulariser (Yin et al. CVPR 2020, eq. 3): for every
    BatchNorm2d, ||mu(x) - running_mean||_2 + ||sigma^2(x) - running_var||_2 of its input over the whole
    augmented batch, the first BatchNorm (the stem's) weighted by ``first_multiplier``. A batch
    statistic: the same value is charged to every image."""

    def fn(ctx: Context) -> torch.Tensor:
        records = ctx.bn_stats()
        if not records:
            raise GenlensError(f"{ctx.handle.name} has no BatchNorm2d layers, so bn_stats has nothing to match")
        total = ctx.batch.new_zeros(())
        for i, r in enumerate(records):
            term = torch.linalg.vector_norm(r.mean - r.running_mean) + torch.linalg.vector_norm(r.var - r.running_var)
            total = total + (first_multiplier if i == 0 else 1.0) * term
        return total

    return Objective(fn, name="bn_stats", needs_bn=True)
