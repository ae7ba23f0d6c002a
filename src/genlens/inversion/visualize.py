"""Feature visualization of single units, many units in one batch, with the PII machinery.

Objective per image i: maximise the mean over space / patch tokens of unit ``units[i]`` of a layer
("channel"), or its value at the centre ("neuron"). For ViT, Mixer and ResMLP, a block name such as
``blocks.3`` means that block's MLP hidden layer, averaged over patch tokens with the class token
excluded: the objective of Ghiasi et al. 2022 ("What do Vision Transformers Learn?", arXiv
2212.06727, section 3). Augmentations, canvas growth and optimiser come from a PII preset.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from genlens.errors import GenlensError
from genlens.inversion.context import Context, Objective
from genlens.inversion.methods.common import final_size
from genlens.inversion.methods.pii import (
    PII_ALIASES,
    PII_PRESETS,
    PIIConfig,
    pii_handle,
    pii_param,
    pii_priors,
    pii_stages,
    pii_transforms,
)
from genlens.inversion.objectives import center_token, patch_tokens
from genlens.inversion.render import AdamConfig, render
from genlens.models.handle import ModelHandle
from genlens.utils.seed import make_generator

Kind = Literal["channel", "neuron"]


def resolve_unit_layer(handle: ModelHandle, layer: str) -> str:
    """``blocks.N`` of a token model -> its MLP hidden activation; anything else must name a layer."""
    layers = handle.named_layers()
    for site in (f"{layer}.mlp.act", f"{layer}.mlp_channels.act"):
        if site in layers:
            return site
    handle.layer(layer)  # one-line error listing the layers when unknown
    return layer


def _unit_values(act: torch.Tensor, ctx: Context, kind: Kind) -> torch.Tensor:
    """(N, units) per augmented row: mean over space/patch tokens, or the centre position."""
    if act.ndim == 4:
        if kind == "neuron":
            h, w = act.shape[-2:]
            return act[:, :, h // 2, w // 2]
        return act.mean(dim=(2, 3))
    if act.ndim == 3:
        p = patch_tokens(act, ctx)
        return p[:, center_token(p.shape[1])] if kind == "neuron" else p.mean(dim=1)
    if act.ndim == 2:
        return act
    raise GenlensError(f"cannot read units from an activation shaped {tuple(act.shape)}")


def units_objective(layer: str, units: torch.Tensor, *, kind: Kind = "channel") -> Objective:
    """Image i maximises unit ``units[i]`` of ``layer`` (a loss: the negated activation)."""

    def fn(ctx: Context) -> torch.Tensor:
        vals = _unit_values(ctx.act(layer), ctx, kind).float()  # (N, units)
        n_units = vals.shape[1]
        if int(units.max()) >= n_units or int(units.min()) < 0:
            bad = [int(u) for u in units if not 0 <= int(u) < n_units]
            raise GenlensError(f"layer '{layer}' has {n_units} units; unit {bad[0]} is out of range 0..{n_units - 1}")
        rows = ctx.rows(units.to(vals.device))
        return -ctx.per_image(vals.gather(1, rows[:, None])[:, 0])

    return Objective(fn, name=f"{kind}({layer})", layers=(layer,))


def visualize(handle: ModelHandle, *, layer: str, units: Sequence[int], kind: Kind = "channel",
              preset: str | PIIConfig = "pii-tuned", seed: int = 0, steps_scale: float = 1.0,
              callback: Callable[[dict[str, Any]], None] | None = None) -> torch.Tensor:
    """Images (len(units), C, H, W) in [0, 1] that drive each unit up, all in one batch, on the CPU."""
    if kind not in ("channel", "neuron"):
        raise GenlensError(f"unknown unit kind '{kind}'; use channel or neuron")
    if not units:
        raise GenlensError("give at least one unit index")
    if isinstance(preset, str):
        preset = PII_ALIASES.get(preset, preset)  # old names (pii -> pii-tuned) keep working
    if isinstance(preset, str) and preset not in PII_PRESETS:
        raise GenlensError(f"unknown preset '{preset}'; choose one of: {', '.join(sorted(PII_PRESETS))}")
    config = PII_PRESETS[preset] if isinstance(preset, str) else preset
    site = resolve_unit_layer(handle, layer)
    unit_t = torch.tensor(list(units), dtype=torch.long)
    objective = units_objective(site, unit_t, kind=kind)
    priors = pii_priors(config)
    if priors is not None:
        objective = objective + priors
    generator = make_generator(seed, "cpu")
    final = final_size(handle)
    stages = pii_stages(config, final, steps_scale)
    param = pii_param(config, batch=len(units), handle=handle, stages=stages, generator=generator)
    result = render(pii_handle(config, handle, stages), objective, param=param, generator=generator, stages=stages,
                    transforms=pii_transforms(config, final), optimizer=AdamConfig(lr=config.lr, betas=config.betas),
                    schedule="cosine", callback=callback)
    return result.images.detach().float().cpu()
