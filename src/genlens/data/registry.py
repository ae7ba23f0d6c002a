"""Data set registry: ``load_dataset("fashion-mnist", split="test")``, or a folder / .npz path."""
from __future__ import annotations

import os
from pathlib import Path

from genlens.data.base import ImageData
from genlens.registry import Registry

DATASETS: Registry[ImageData] = Registry("data set")


@DATASETS.register("fashion-mnist")
def _fmnist(split: str = "train", data_dir: str | None = None, **_: object) -> ImageData:
    from genlens.data.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(split, data_dir=data_dir)


@DATASETS.register("fashion-scenes")
def _scenes(split: str = "train", data_dir: str | None = None, **_: object) -> ImageData:
    from genlens.data.scenes import SceneConfig, load_scenes

    return load_scenes(SceneConfig(split=split), data_dir=data_dir)


@DATASETS.register("fashion-scenes-rgb")
def _scenes_rgb(split: str = "train", data_dir: str | None = None, **_: object) -> ImageData:
    from genlens.data.scenes import SceneConfig, load_scenes

    return load_scenes(SceneConfig(split=split, rgb=True), data_dir=data_dir)


@DATASETS.register("digits")
def _digits(split: str = "train", **_: object) -> ImageData:
    from genlens.data.digits import load_digits

    return load_digits(split)


def load_dataset(name_or_path: str | os.PathLike, *, split: str = "train", data_dir: str | None = None,
                 channels: int = 1, size: int | None = 28) -> ImageData:
    """A registered name, an image folder, or an ``.npz`` with ``images`` (and optional ``labels``)."""
    text = str(name_or_path)
    if text in DATASETS:
        return DATASETS.create(text, split=split, data_dir=data_dir)
    path = Path(text)
    if path.suffix == ".npz":
        from genlens.data.npz import load_npz

        return load_npz(path)
    if path.is_dir():
        from genlens.data.folder import load_image_folder

        return load_image_folder(path, channels=channels, size=size)
    return DATASETS.create(text)  # raises the one-line "unknown data set" error
