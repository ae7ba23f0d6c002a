"""GAN model folders: ``save_model_folder`` with ``config.json`` kind ``"gan"``; shipped names resolve to
``genlens/models/weights/<name>``: ``fmnist-gan`` (the StyleGAN2-style baseline), ``fmnist-sel-only`` (the
ablation) and ``fmnist-eqgan`` (EqGAN-SA)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.gan.networks import ARCHS, Discriminator, GanConfig, Generator
from genlens.models.load import WEIGHTS_ROOT
from genlens.models.weights_io import (
    WEIGHTS_FILE,
    load_state_into,
    read_folder_config,
    read_state,
    save_model_folder,
    verify_manifest,
)
from genlens.utils.config_io import to_dict

KIND = "gan"
SHIPPED_NAMES = {"stylegan2": "fmnist-gan", "sel-only": "fmnist-sel-only", "eqgan-sa": "fmnist-eqgan"}
assert set(SHIPPED_NAMES) == set(ARCHS)
SHIPPED = {name: arch for arch, name in SHIPPED_NAMES.items()}  # shipped name -> arch


def shipped_gan_folder(arch: str) -> Path:
    return WEIGHTS_ROOT / SHIPPED_NAMES[arch]


def save_generator(folder: str | os.PathLike, G: Generator, *, command: str, metrics: dict[str, Any],
                   train: dict[str, Any] | None = None, discriminator: Discriminator | None = None) -> Path:
    """Write G (usually the EMA copy) as a model folder whose config has ``kind: "gan"``; with
    ``discriminator``, D beside it (for D's CAM in the tour and DI without the run dir)."""
    config = {"kind": KIND, "name": SHIPPED_NAMES[G.config.arch], "gan": to_dict(G.config), "train": train or {}}
    path = save_model_folder(folder, G, config=config, command=command, metrics=metrics, dtype=torch.float32)
    if discriminator is not None:
        from genlens.gan.discriminator import save_discriminator

        save_discriminator(path, discriminator)
    return path


def load_generator(name_or_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                   verify: bool = True) -> Generator:
    """A generator (eval mode) from a shipped name (``fmnist-eqgan`` ...) or a GAN model folder."""
    text = str(name_or_dir)
    if text in SHIPPED:
        folder = shipped_gan_folder(SHIPPED[text])
        if not (folder / WEIGHTS_FILE).is_file():
            raise GenlensError(f"no trained GAN '{text}' at {folder}; run `genlens gan train --arch {SHIPPED[text]}`")
    else:
        folder = Path(text)
        if not folder.is_dir():
            raise GenlensError(f"'{text}' is neither a GAN folder nor a shipped GAN ({', '.join(SHIPPED)}); "
                               "pass a folder written by `genlens gan train`")
    cfg = read_folder_config(folder, kinds=(KIND,), what="a GAN", fix="pass a folder written by `genlens gan train`")
    if verify:
        verify_manifest(folder)
    config = GanConfig.from_dict(cfg.get("gan"), where=f"'{folder}/config.json' 'gan'")
    G = Generator(config)
    load_state_into(G, read_state(folder / WEIGHTS_FILE), what=str(folder / WEIGHTS_FILE), arch=config.arch)
    return G.to(device).eval().requires_grad_(False)
