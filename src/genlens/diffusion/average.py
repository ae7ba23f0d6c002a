"""Weight averages ("soups") of diffusion models of one architecture.

A uniform or weighted mean of the parameters of models fine-tuned from a common start lies in the same
loss basin and often beats each of them: Wortsman et al. 2022 ("Model soups", arXiv 2203.05482, the
uniform soup, sec. 2); Izmailov et al. 2018 (SWA, arXiv 1803.05407, eq. 1) for points along one run. For
diffusion models, Karras et al. 2024 (EDM2, arXiv 2312.02696, sec. 3) show that a longer average of
the weights than a single EMA gives is often better, and that the best averaging length is found only
by trying it after training. Here each input is a model folder (its EMA weights) or a bare EMA snapshot
(``.safetensors``) of the same architecture.

θ_soup = Σ_i a_i θ_i / Σ_i a_i over floating-point tensors; any other tensor (e.g. integer buffers) must
be equal in every input.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlens.errors import GenlensError

# config.json fields that must agree for two models to be averaged (the weights' meaning depends on them)
MUST_MATCH = ("kind", "unet", "schedule", "class_names", "text_encoder")


@dataclass
class Ingredient:
    """One input of a soup: where it came from, its weights and their sha256."""

    path: Path
    state: dict[str, torch.Tensor]
    sha256: str
    weight: float = 1.0
    command: str | None = None  # the command that made it, when its folder has a manifest
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)  # that manifest (folders only)
    config: dict[str, Any] | None = field(default=None, repr=False)  # config.json of a model folder


def read_ingredient(path: str | os.PathLike, *, weight: float = 1.0, verify: bool = True) -> Ingredient:
    """A model folder (verified against its manifest unless ``verify=False``) or a bare ``.safetensors``
    EMA snapshot (e.g. ``checkpoints/last/ema.safetensors`` of a run)."""
    from genlens.diffusion.io import KINDS
    from genlens.models.weights_io import WEIGHTS_FILE, read_folder_config, read_state, verify_manifest
    from genlens.utils.io import read_json, sha256_file

    path = Path(path)
    if path.is_dir():
        config = read_folder_config(path, kinds=tuple(KINDS.values()), what="a diffusion model",
                                    fix="pass folders written by `genlens diffusion train` (or .safetensors snapshots)")
        manifest = verify_manifest(path) if verify else read_json(path / "manifest.json") \
            if (path / "manifest.json").is_file() else {}
        file = path / WEIGHTS_FILE
        return Ingredient(path, read_state(file), sha256_file(file), weight, manifest.get("command"), manifest, config)
    if path.suffix == ".safetensors" and path.is_file():
        return Ingredient(path, read_state(path), sha256_file(path), weight)
    raise GenlensError(f"'{path}' is neither a diffusion model folder nor a .safetensors file; pass one of those")


def check_compatible(ingredients: Sequence[Ingredient]) -> dict[str, Any]:
    """The config every folder ingredient shares (the first folder's); one line naming the first field or
    tensor that differs otherwise."""
    folders = [i for i in ingredients if i.config is not None]
    if not folders:
        raise GenlensError("a soup needs at least one model folder (for its config); the others may be "
                           ".safetensors snapshots")
    base = folders[0]
    for other in folders[1:]:
        for key in MUST_MATCH:
            if base.config.get(key) != other.config.get(key):
                raise GenlensError(f"'{other.path}' differs from '{base.path}' in {key}; only models of one "
                                   "architecture, schedule and label set can be averaged")
    keys = set(base.state)
    for other in ingredients:
        if set(other.state) != keys:
            missing = sorted(keys ^ set(other.state))[0]
            raise GenlensError(f"'{other.path}' and '{base.path}' hold different tensors (e.g. {missing}); only "
                               "weights of one architecture can be averaged")
        for k, v in other.state.items():
            if tuple(v.shape) != tuple(base.state[k].shape):
                raise GenlensError(f"'{other.path}' has {k} of shape {tuple(v.shape)}, '{base.path}' "
                                   f"{tuple(base.state[k].shape)}; only weights of one architecture can be averaged")
    return base.config


def average_states(states: Sequence[dict[str, torch.Tensor]], weights: Sequence[float] | None = None
                   ) -> dict[str, torch.Tensor]:
    """Σ a_i θ_i / Σ a_i per floating tensor (computed in float64, returned in the first state's dtype);
    other tensors must be identical in every state."""
    if len(states) < 2:
        raise GenlensError(f"averaging needs at least two sets of weights, got {len(states)}")
    weights = [1.0] * len(states) if weights is None else [float(w) for w in weights]
    if len(weights) != len(states):
        raise GenlensError(f"{len(weights)} weights for {len(states)} models; give one weight per model")
    if any(not (w >= 0) for w in weights) or sum(weights) <= 0:
        raise GenlensError(f"soup weights must be >= 0 and not all zero, got {weights}")
    total = sum(weights)
    out = {}
    for k, first in states[0].items():
        if first.is_floating_point():
            acc = sum(w * s[k].double() for w, s in zip(weights, states, strict=True))
            out[k] = (acc / total).to(first.dtype)
        else:
            if any(not torch.equal(s[k], first) for s in states[1:]):
                raise GenlensError(f"non-float tensor {k} differs between the inputs; they cannot be averaged")
            out[k] = first.clone()
    return out


def soup(ingredients: Sequence[Ingredient]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The averaged state and the shared config (see :func:`check_compatible`)."""
    config = check_compatible(ingredients)
    return average_states([i.state for i in ingredients], [i.weight for i in ingredients]), config


def provenance(ingredients: Sequence[Ingredient]) -> list[dict[str, Any]]:
    """What a soup's manifest records per input: path, sha256, relative weight, the command that made it and,
    for a folder, its manifest's commit and metrics (without the loss history), so the chain of warm starts
    behind each input stays readable."""
    total = sum(i.weight for i in ingredients)
    rows = []
    for i in ingredients:
        row = {"path": str(i.path), "sha256": i.sha256, "weight": i.weight / total, "command": i.command}
        if i.manifest:
            row["git_commit"] = i.manifest.get("git_commit")
            row["metrics"] = {k: v for k, v in i.manifest.get("metrics", {}).items() if k != "history"}
        rows.append(row)
    return rows
