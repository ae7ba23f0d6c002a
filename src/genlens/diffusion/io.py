"""Diffusion model folders: ``model.safetensors`` (EMA weights) + ``config.json`` + ``manifest.json``.

config.json: ``{"kind": "diffusion-class" | "diffusion-text" | "diffusion-none", "unet": {...},
"schedule": {...}, "class_names": [...], "text_encoder": "minilm" | null, "train": {...},
"sampling": {...} (optional; :mod:`genlens.diffusion.defaults`)}``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlens.diffusion.defaults import SamplingDefaults
from genlens.diffusion.schedule import NoiseSchedule
from genlens.diffusion.train import DiffusionTrainConfig
from genlens.diffusion.unet import Denoiser, UNetConfig
from genlens.errors import GenlensError
from genlens.models.weights_io import (
    WEIGHTS_FILE,
    load_state_into,
    read_folder_config,
    read_state,
    save_model_folder,
    verify_manifest,
)

KINDS = {"class": "diffusion-class", "text": "diffusion-text", "none": "diffusion-none"}
SHIPPED = {"class": "fmnist-ddpm", "text": "fmnist-ddpm-text"}


@dataclass
class DiffusionBundle:
    """A loaded diffusion model: the denoiser, its training noise schedule, and what it was trained on."""

    model: Denoiser
    schedule: NoiseSchedule
    class_names: tuple[str, ...]
    kind: str
    folder: Path
    text_encoder: str | None = None
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)  # the folder's recommended guidance interval


def save_diffusion(folder: str | os.PathLike, model: Denoiser, *, config: DiffusionTrainConfig,
                   class_names: tuple[str, ...], command: str, metrics: dict[str, Any],
                   dtype: torch.dtype = torch.float32) -> Path:
    kind = config.unet.cond
    meta = {"kind": KINDS[kind], "unet": config.unet.to_dict(), "schedule": config.schedule.to_dict(),
            "class_names": list(class_names), "text_encoder": "minilm" if kind == "text" else None,
            "train": config.to_dict()}
    return save_model_folder(folder, model, config=meta, command=command, metrics=metrics, dtype=dtype)


def shipped_diffusion_folder(cond: str = "class") -> Path:
    from genlens.models.load import shipped_folder

    return shipped_folder(SHIPPED[cond])


def load_diffusion(folder: str | os.PathLike, *, device: str | torch.device = "cpu", verify: bool = True
                   ) -> DiffusionBundle:
    folder = Path(folder)
    if not folder.is_dir():
        raise GenlensError(f"diffusion model folder '{folder}' does not exist; train one with "
                           "`genlens diffusion train --out DIR`")
    meta = read_folder_config(folder, kinds=tuple(KINDS.values()), what="a diffusion model",
                              fix="pass a folder written by `genlens diffusion train`")
    kind = meta["kind"]
    if verify:
        verify_manifest(folder)
    unet = UNetConfig.from_dict(meta["unet"])
    model = Denoiser(unet)
    load_state_into(model, read_state(folder / WEIGHTS_FILE), what=f"'{folder / WEIGHTS_FILE}'", arch=kind)
    model = model.to(device).eval().requires_grad_(False)
    schedule = NoiseSchedule.from_dict(meta["schedule"])
    return DiffusionBundle(model=model, schedule=schedule,
                           class_names=tuple(meta.get("class_names") or ()), kind=kind, folder=folder,
                           text_encoder=meta.get("text_encoder"),
                           sampling=SamplingDefaults.from_dict(meta.get("sampling"), schedule.num_train_timesteps))
