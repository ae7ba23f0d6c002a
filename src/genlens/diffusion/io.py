"""Diffusion model folders: ``model.safetensors`` (EMA weights) + ``config.json`` + ``manifest.json``.

config.json: ``{"kind": "diffusion-class" | "diffusion-text" | "diffusion-none" | "diffusion-layout", "unet": {...},
"schedule": {...}, "class_names": [...], "text_encoder": "minilm" | null, "train": {...},
"data": {"spec", "resolution", "channels", "hflip"}, "sampling": {...}}`` (``"data"``: the DataOptions it was
trained with; folders without it were trained on their ``train.data`` spec at the denoiser's canvas). The optional ``"sampling"`` block is the model's recommended sampling settings: any
:class:`~genlens.diffusion.config.SamplingConfig` fields (e.g. ``guidance_interval``, ``guide_model``,
``guide_weight``, ``timestep_spacing``) plus a ``"note"`` saying where they were measured.
:class:`~genlens.diffusion.pipeline.DiffusionPipeline` samples with them unless told otherwise; ``guide_model``
is a path relative to the model folder's parent (a sibling folder's name) or an absolute path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from genlens.data.captions import check_round
from genlens.data.options import DataOptions
from genlens.diffusion.config import (
    SAMPLING_MIGRATION,
    TRAIN_MIGRATION,
    UNET_MIGRATION,
    DiffusionTrainConfig,
    NoiseSchedule,
    SamplingConfig,
    UNetConfig,
    check_interval,
)
from genlens.diffusion.unet import Denoiser
from genlens.errors import GenlensError
from genlens.models.weights_io import (
    load_folder_weights,
    read_folder_config,
    save_model_folder,
)
from genlens.utils.config_io import from_dict, to_dict
from genlens.utils.data_record import FMNIST, data_record, read_data_options

KINDS = {"class": "diffusion-class", "text": "diffusion-text", "none": "diffusion-none", "layout": "diffusion-layout"}
SHIPPED = {"class": "fmnist-ddpm", "text": "fmnist-ddpm-text", "layout": "scenes-ddpm-layout"}
# How to make a shipped model that is not in this install yet (named in the one-line error).
TRAIN_HINTS = {"scenes-ddpm-layout": "genlens diffusion train --data fashion-scenes --cond layout --size small "
                                     "--steps 30000 --batch 64"}
FIX = "rewrite it with `genlens diffusion defaults MODEL ...`"


@dataclass
class DiffusionBundle:
    """A loaded diffusion model: the denoiser, its training noise schedule, what it was trained on, and its
    recommended sampling settings (``sampling``: SamplingConfig field -> value; ``note``: where measured)."""

    model: Denoiser
    schedule: NoiseSchedule
    class_names: tuple[str, ...]
    kind: str
    folder: Path | None = None
    text_encoder: str | None = None
    data: DataOptions = FMNIST  # what it was trained on, preprocessed how (config.json "data")
    sampling: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    caption_round: int = 1  # text models: the caption round trained on (genlens.data.captions), anchors' only source
    captions_from: str = "classes"  # text models: "classes" (the round's class captions) or "images" (their own)


def save_diffusion(folder: str | os.PathLike, model: Denoiser, *, config: DiffusionTrainConfig,
                   class_names: tuple[str, ...], command: str, metrics: dict[str, Any],
                   dtype: torch.dtype = torch.float32, data: DataOptions | None = None) -> Path:
    """Write the model folder; ``data``: the options it was trained with (default: ``config.data`` at the
    denoiser's canvas and channels)."""
    kind = config.unet.cond
    meta = {"kind": KINDS[kind], "unet": to_dict(config.unet), "schedule": to_dict(config.schedule),
            "class_names": list(class_names), "text_encoder": "minilm" if kind == "text" else None,
            "train": to_dict(config), "data": data_record(data or legacy_data(config.unet, config.data,
                                                                               hflip=config.hflip))}
    return save_model_folder(folder, model, config=meta, command=command, metrics=metrics, dtype=dtype)


def legacy_data(unet: UNetConfig, spec: str, *, hflip: bool = False) -> DataOptions:
    """The options of a folder that records none: its spec at the denoiser's canvas (less the padding) and
    channels (a Fashion-MNIST folder: fashion-mnist, 28 px, grey)."""
    return DataOptions(spec, unet.sample_size - 2 * unet.pad, unet.in_channels, hflip)


def warm_start_provenance(folder: str | os.PathLike) -> dict[str, Any]:
    """What a warm start (``--init-from``) came from: the folder, its weights' sha256 and the command that made
    them (its manifest's metrics, less the loss history)."""
    from genlens.utils.io import read_json

    manifest = read_json(Path(folder) / "manifest.json")
    return {"folder": str(folder), "sha256": manifest.get("sha256"), "command": manifest.get("command"),
            "git_commit": manifest.get("git_commit"), "metrics": {k: v for k, v in manifest.get("metrics", {}).items()
                                                                   if k != "history"}}


def shipped_diffusion_folder(cond: str = "class") -> Path:
    from genlens.models.load import shipped_folder

    return shipped_folder(SHIPPED[cond])


def read_train_config(data: Any, *, where: str) -> DiffusionTrainConfig:
    """A ``"train"`` block (config.json, run.json) as a :class:`DiffusionTrainConfig`, older files included."""
    return from_dict(DiffusionTrainConfig, data, where=where, migration=TRAIN_MIGRATION)


def read_sampling(data: Any, *, where: str, num_train_timesteps: int = 1000) -> tuple[dict[str, Any], str]:
    """A folder's ``"sampling"`` block as (the fields it sets, checked, -> their values; its note)."""
    if not data:
        return {}, ""
    if not isinstance(data, dict):
        raise GenlensError(f"{where} must be an object like {{\"guidance_interval\": [150, 600]}}; {FIX}")
    data = SAMPLING_MIGRATION.apply(data, where=where)
    note = data.pop("note", "")
    config = from_dict(SamplingConfig, data, where=where)
    check_interval(config.guidance_interval, num_train_timesteps)
    return {f.name: getattr(config, f.name) for f in fields(SamplingConfig) if f.name in data}, str(note)


def write_sampling(folder: str | os.PathLike, settings: dict[str, Any], note: str = "") -> Path:
    """Rewrite ``folder/config.json`` with ``settings`` (SamplingConfig fields) as its recommended sampling
    block (atomically; the weights and their manifest sha256 are untouched, so the folder still verifies)."""
    from genlens.utils.io import atomic_write_json, read_json

    path = Path(folder) / "config.json"
    if not path.is_file():
        raise GenlensError(f"'{folder}' has no config.json; pass a folder written by `genlens diffusion train`")
    cfg = read_json(path)
    if not str(cfg.get("kind", "")).startswith("diffusion-"):
        raise GenlensError(f"'{folder}' holds a {cfg.get('kind', 'classifier')} model, not a diffusion model; "
                           "pass a folder written by `genlens diffusion train`")
    full = to_dict(SamplingConfig(**settings))
    cfg["sampling"] = {k: full[k] for k in settings} | {"note": note}
    return atomic_write_json(path, cfg)


def load_diffusion(folder: str | os.PathLike, *, device: str | torch.device = "cpu", verify: bool = True
                   ) -> DiffusionBundle:
    folder = Path(folder)
    if not folder.is_dir():
        raise GenlensError(f"diffusion model folder '{folder}' does not exist; train one with "
                           "`genlens diffusion train --out DIR`")
    meta = read_folder_config(folder, kinds=tuple(KINDS.values()), what="a diffusion model",
                              fix="pass a folder written by `genlens diffusion train`")
    kind = meta["kind"]
    where = f"'{folder / 'config.json'}'"
    unet = from_dict(UNetConfig, meta["unet"], where=f"{where} unet", migration=UNET_MIGRATION)
    model = load_folder_weights(folder, Denoiser(unet), arch=kind, verify=verify)
    model = model.to(device).eval().requires_grad_(False)
    schedule = from_dict(NoiseSchedule, meta["schedule"], where=f"{where} schedule")
    sampling, note = read_sampling(meta.get("sampling"), where=f"{where} sampling",
                                   num_train_timesteps=schedule.num_train_timesteps)
    spec = meta.get("train", {}).get("data", "fashion-mnist") if isinstance(meta.get("train"), dict) else "fashion-mnist"
    data = read_data_options(meta, where=where, legacy=legacy_data(unet, str(spec)))
    # Text models: the caption round trained on. A folder that records none (the shipped fmnist-ddpm-text among
    # them) has TRAIN_MIGRATION's legacy value, round 1. Only this key is read, so a folder whose train block
    # holds an option that has since left the library still loads for sampling, as before.
    train = meta.get("train") if isinstance(meta.get("train"), dict) else {}
    caption_round = check_round(train.get("caption_round", TRAIN_MIGRATION.added["caption_round"]))
    captions_from = str(train.get("captions_from", TRAIN_MIGRATION.added["captions_from"]))
    return DiffusionBundle(model=model, schedule=schedule, class_names=tuple(meta.get("class_names") or ()),
                           kind=kind, folder=folder, text_encoder=meta.get("text_encoder"), sampling=sampling,
                           note=note, data=data, caption_round=caption_round, captions_from=captions_from)
