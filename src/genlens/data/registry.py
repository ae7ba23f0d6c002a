"""Data set registry: ``load_dataset("fashion-mnist", split="test")``, or any data spec (``folder:PATH``...)."""
from __future__ import annotations

import os

from genlens.data.base import ImageData
from genlens.registry import Registry

DATASETS: Registry[ImageData] = Registry("data set")


@DATASETS.register("fashion-mnist")
def _fmnist(split: str = "train", data_dir: str | None = None, **_: object) -> ImageData:
    from genlens.data.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(split, data_dir=data_dir)


@DATASETS.register("digits")
def _digits(split: str = "train", **_: object) -> ImageData:
    from genlens.data.digits import load_digits

    return load_digits(split)


def load_dataset(name_or_path: str | os.PathLike, *, split: str = "train", data_dir: str | None = None,
                 channels: int = 1, size: int | None = 28) -> ImageData:
    """The images a data spec names (``NAME[:split]``, ``folder:PATH``, ``npz:PATH`` or an existing path;
    see :mod:`genlens.data.spec`); ``split`` applies when the spec names none."""
    from genlens.data.spec import load_data

    return load_data(name_or_path, split=split, data_dir=data_dir, channels=channels, size=size)
