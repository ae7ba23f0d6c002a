"""What a trained model folder says about its data: the :class:`~genlens.data.options.DataOptions` it was
trained with (``config.json`` key ``"data"``), read back for any folder genlens ever wrote.

Folders written before the key existed (or GAN folders that stored only the spec string) get the options
their own network implies: the spec they name (Fashion-MNIST when none) at the network's canvas and channels.
Samplers and evaluators compare a model's resolution with the data's through :func:`check_resolution`, so a
model trained at one size never meets data of another without a one-line error naming both.
"""
from __future__ import annotations

from typing import Any

from genlens.data.options import DataOptions
from genlens.errors import GenlensError
from genlens.utils.config_io import Migration, from_dict, to_dict

KEY = "data"
FMNIST = DataOptions("fashion-mnist", 28, 1, False)  # what every folder before the key was trained on
# A "data" block written before a field existed: the field's default (no flips; the data's own size).
MIGRATION = Migration(added={"hflip": False})


def data_record(options: DataOptions) -> dict[str, Any]:
    """``options`` as the JSON object stored under ``config.json["data"]``."""
    return to_dict(options)


def read_data_options(meta: dict[str, Any], *, where: str, legacy: DataOptions = FMNIST) -> DataOptions:
    """The options a folder's ``config.json`` (``meta``) records; ``legacy`` when it records none, or its spec
    string alone (older GAN folders) on ``legacy``'s size and channels."""
    block = meta.get(KEY)
    if block is None:
        return legacy
    if isinstance(block, str):
        return DataOptions(block, legacy.resolution, legacy.channels, legacy.hflip)
    return from_dict(DataOptions, block, where=f"{where} '{KEY}'", migration=MIGRATION)


def check_resolution(model_px: int, data_px: int, *, model: str, data: str) -> None:
    """One line when a model trained on ``model_px`` images meets ``data_px`` images."""
    if int(model_px) != int(data_px):
        raise GenlensError(f"{model} was trained on {model_px}x{model_px} images but {data} holds "
                           f"{data_px}x{data_px}; pass --resolution {model_px} or data of that size")


def real_images(trained: DataOptions, spec: str | None = None, *, model_px: int, model: str,
                resolution: int | None = None, split: str = "test", data_dir: Any = None,
                limit: int | None = None, notes: list[str] | None = None):
    """The real images (N, C, H, W) in [0, 1] a generator trained with ``trained`` is scored against: its own
    data preprocessed as in training (``spec`` None), or ``spec`` at its own size (``resolution``: resized) in
    the model's channels. Another size than the model's ``model_px``: one line naming both. ``notes`` gets what
    loading did that the user should hear (images converted, resized, skipped)."""
    from dataclasses import replace

    from genlens.data.options import load_with_options

    own = spec is None or spec == trained.spec
    options = replace(trained, hflip=False) if own else DataOptions(spec, None, trained.channels)
    if resolution is not None:
        options = replace(options, resolution=resolution)
    data = load_with_options(options, split=split, data_dir=data_dir, limit=limit)
    if notes is not None:
        notes.extend(data.notes)
    check_resolution(model_px, int(data.images.shape[-1]), model=model, data=options.spec)
    return data.float_images()
