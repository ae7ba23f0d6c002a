"""GAN model folders: ``save_model_folder`` with ``config.json`` kind ``"gan"`` (and the ``data`` spec it was
trained on); shipped names resolve to ``genlens/models/weights/<name>``: on Fashion-MNIST ``fmnist-gan`` (the
StyleGAN2-style baseline), ``fmnist-sel-only`` (the ablation) and ``fmnist-eqgan`` (EqGAN-SA); on
fashion-scenes ``scenes-gan``, ``scenes-eqgan`` and ``scenes-gan-layout`` (the layout-conditioned GAN)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from genlens.data.options import DataOptions
from genlens.errors import GenlensError
from genlens.gan.config import ALL_ARCHS
from genlens.gan.networks import Discriminator, GanConfig, Generator
from genlens.models.load import WEIGHTS_ROOT
from genlens.models.weights_io import (
    WEIGHTS_FILE,
    load_folder_weights,
    read_folder_config,
    save_model_folder,
)
from genlens.utils.config_io import to_dict
from genlens.utils.data_record import data_record, read_data_options
from genlens.utils.io import read_json

KIND = "gan"
FMNIST = "fashion-mnist"
SCENES = "fashion-scenes"
SHIPPED_NAMES = {"stylegan2": "fmnist-gan", "sel-only": "fmnist-sel-only", "eqgan-sa": "fmnist-eqgan"}
SCENES_NAMES = {"stylegan2": "scenes-gan", "eqgan-sa": "scenes-eqgan", "layout": "scenes-gan-layout"}
assert set(SHIPPED_NAMES) | set(SCENES_NAMES) == set(ALL_ARCHS)
# shipped name -> (arch, data it is trained on)
SHIPPED = {**{name: (arch, FMNIST) for arch, name in SHIPPED_NAMES.items()},
           **{name: (arch, SCENES) for arch, name in SCENES_NAMES.items()}}


def shipped_gan_folder(arch: str, data: str = FMNIST) -> Path:
    """The shipped folder of ``arch`` trained on ``data`` (fashion-mnist or fashion-scenes)."""
    names = SCENES_NAMES if data == SCENES else SHIPPED_NAMES
    if arch not in names:
        raise GenlensError(f"no shipped '{arch}' GAN on {data}; pass --out")
    return WEIGHTS_ROOT / names[arch]


def gan_folder(name_or_dir: str | os.PathLike) -> Path:
    """The model folder of a GAN given by its shipped name (``fmnist-eqgan``, ``scenes-gan-layout`` ...) or as a
    folder written by ``genlens gan train``: where its ``model.safetensors``, ``config.json`` and (when training
    saved it) ``discriminator.safetensors`` are. Only resolves the name; :func:`load_generator` checks the
    folder's contents. A shipped GAN whose weights are not there, or a path that is not a folder, is one line."""
    text = str(name_or_dir)
    if text in SHIPPED:
        arch, data = SHIPPED[text]
        folder = shipped_gan_folder(arch, data)
        if not (folder / WEIGHTS_FILE).is_file():
            how = "" if data == FMNIST else f" --data {data} --out {folder}"
            raise GenlensError(f"no trained GAN '{text}' at {folder}; run `genlens gan train --arch {arch}{how}`")
        return folder
    folder = Path(text)
    if not folder.is_dir():
        raise GenlensError(f"'{text}' is neither a GAN folder nor a shipped GAN ({', '.join(SHIPPED)}); "
                           "pass a folder written by `genlens gan train`")
    return folder


def model_name(arch: str, data: str) -> str:
    """The shipped name of ``arch`` on ``data``, else ``<data>-<arch>``."""
    names = {FMNIST: SHIPPED_NAMES, SCENES: SCENES_NAMES}.get(data, {})
    return names.get(arch, f"{data.replace(':', '-').replace('/', '_')}-{arch}")


def save_generator(folder: str | os.PathLike, G: Generator, *, command: str, metrics: dict[str, Any],
                   train: dict[str, Any] | None = None, discriminator: Discriminator | None = None,
                   data: str | DataOptions = FMNIST) -> Path:
    """Write G (usually the EMA copy) as a model folder whose config has ``kind: "gan"`` and the data it learnt
    (``data``: :class:`DataOptions`, or a spec at G's canvas and channels); with ``discriminator``, D beside it
    (for D's CAM in the tour and DI without the run dir)."""
    options = data if isinstance(data, DataOptions) else legacy_data(G.config, data)
    config = {"kind": KIND, "name": model_name(G.config.arch, options.spec), "data": data_record(options),
              "gan": to_dict(G.config), "train": train or {}}
    path = save_model_folder(folder, G, config=config, command=command, metrics=metrics, dtype=torch.float32)
    if discriminator is not None:
        from genlens.gan.discriminator import save_discriminator

        save_discriminator(path, discriminator)
    return path


def legacy_data(config: GanConfig, spec: str = FMNIST) -> DataOptions:
    """The options of a GAN folder that stores only its spec (or nothing: Fashion-MNIST, before issue 27): the
    spec at G's canvas (Fashion-MNIST: 28 px, padded to 32) and channels."""
    side = 28 if spec.split(":")[0] == FMNIST else config.resolution
    return DataOptions(spec, side, config.img_channels, False)


def model_data_options(name_or_dir: str | os.PathLike, config: GanConfig) -> DataOptions:
    """The :class:`DataOptions` a GAN (shipped name or folder, whose generator config is ``config``) learnt."""
    text = str(name_or_dir)
    if text in SHIPPED:
        return legacy_data(config, SHIPPED[text][1])
    cfg = read_json(Path(text) / "config.json")
    spec = cfg.get("data") if isinstance(cfg.get("data"), str) else FMNIST
    return read_data_options(cfg, where=f"'{text}/config.json'", legacy=legacy_data(config, spec))


def model_data(name_or_dir: str | os.PathLike) -> str:
    """The data spec a GAN (shipped name or folder) was trained on; folders written before issue 27 hold
    Fashion-MNIST GANs."""
    text = str(name_or_dir)
    if text in SHIPPED:
        return SHIPPED[text][1]
    try:
        cfg = read_json(Path(text) / "config.json")
    except (OSError, ValueError):
        return FMNIST  # loading the folder then says what is wrong with it
    data = cfg.get("data", FMNIST) if isinstance(cfg, dict) else FMNIST
    return str(data.get("spec", FMNIST) if isinstance(data, dict) else data)


def load_generator(name_or_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                   verify: bool = True) -> Generator:
    """A generator (eval mode) from a shipped name (``fmnist-eqgan``, ``scenes-gan-layout`` ...) or a GAN model
    folder."""
    folder = gan_folder(name_or_dir)
    cfg = read_folder_config(folder, kinds=(KIND,), what="a GAN", fix="pass a folder written by `genlens gan train`")
    config = GanConfig.from_dict(cfg.get("gan"), where=f"'{folder}/config.json' 'gan'")
    G = load_folder_weights(folder, Generator(config), arch=config.arch, verify=verify)
    return G.to(device).eval().requires_grad_(False)
