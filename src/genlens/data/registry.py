"""Data set registry: ``DATASETS.create("fashion-mnist", split="test")``; load any data spec with
:func:`genlens.data.spec.load_data`."""
from __future__ import annotations

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
