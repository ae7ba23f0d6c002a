"""A zoo architecture (or any timm model) sized for the user's data: ``genlens zoo train ARCH --data SPEC``.

The zoo's four shipped networks are fixed to 28x28 grey Fashion-MNIST. For other data the same architectures
are built for the data's resolution, channels and classes: the CNN as it is (global pooling takes any size),
the ViT, MLP-Mixer and ResMLP with a patch that keeps an 8x8 grid of tokens at 32 px and above (patch 4 at 32,
8 at 64, 16 at 128; the zoo's 7x7 at 28 px). ``timm:NAME`` builds timm's model of that name with random
weights (never a download). The recipe is the zoo model's (``fmnist-cnn`` for timm models), its flips from
``--hflip``; normalisation statistics are the training images' per-channel mean and std. The folder's
``config.json`` holds the whole :class:`ZooSpec`, so :func:`genlens.models.load.load_model` rebuilds it.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn as nn

from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.models.zoo.specs import ZOO, ZooSpec, build, get_spec

ARCHS = {"cnn": "fmnist-cnn", "vit": "fmnist-vit", "mixer": "fmnist-mixer", "resmlp": "fmnist-resmlp"}
TIMM = "timm:"
PATCHED = ("vit", "mixer", "resmlp")


def is_arch(name: str) -> bool:
    """``name`` names an architecture to size for new data (``cnn``, ``vit``, ``mixer``, ``resmlp``, ``timm:X``)."""
    return name in ARCHS or name.startswith(TIMM)


def patch_size(resolution: int) -> int:
    """Patch of a patch-based model at ``resolution`` px: an 8x8 token grid (7x7 at 28 px)."""
    return 4 if resolution <= 32 else resolution // 8


def check_resolution(arch: str, resolution: int) -> None:
    """One line when ``resolution`` is not a multiple of ``arch``'s patch."""
    if arch in PATCHED and resolution % patch_size(resolution):
        p = patch_size(resolution)
        raise GenlensError(f"--resolution {resolution} is not a multiple of the {arch}'s {p}-px patch; use "
                           f"--resolution {max(p, resolution // p * p)}")


def channel_stats(data: ImageData) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of ``data``'s images in [0, 1] (the normalisation the handle applies)."""
    x = data.images.float().div_(255.0).transpose(0, 1).flatten(1)  # (C, N*H*W)
    return tuple(round(float(v), 4) for v in x.mean(1)), tuple(round(max(float(v), 1e-3), 4) for v in x.std(1))


def arch_spec(arch: str, data: ImageData, *, hflip: bool) -> ZooSpec:
    """The :class:`ZooSpec` of ``arch`` sized for ``data`` (its resolution, channels, classes and statistics)."""
    if not is_arch(arch):
        raise GenlensError(f"'{arch}' is not an architecture; use one of {', '.join(ARCHS)} or timm:NAME")
    c, h, w = (int(v) for v in data.images.shape[1:])
    if h != w:
        raise GenlensError(f"the images are {h}x{w}; pass --resolution N for square N x N images")
    if data.num_classes < 2:
        raise GenlensError(f"{data.name} has one class; a classifier needs labels of 2+ classes (sub-folders of "
                           "--data folder:PATH, or labels in the .npz)")
    check_resolution(arch, h)
    base = get_spec(ARCHS.get(arch, "fmnist-cnn"))
    kw: dict[str, Any] = {"num_classes": data.num_classes, "in_chans": c}
    if arch.startswith(TIMM):
        kw["model_name"] = arch[len(TIMM):]
        kw["img_size"] = h
    else:
        kw = {**base.kwargs, **kw}
        if arch in PATCHED:
            kw |= {"img_size": h, "patch_size": patch_size(h)}
    mean, std = channel_stats(data)
    shift = max(1, round(base.train.max_shift * h / 28))  # the zoo's 2 px at 28 px, scaled
    return ZooSpec(name=arch, arch=arch, description=f"{arch} for {data.name} ({c}x{h}x{w}, {data.num_classes} "
                   "classes)", kwargs=kw, train=replace(base.train, hflip=hflip, max_shift=shift), mean=mean,
                   std=std, input_size=(c, h, w), class_names=tuple(data.class_names))


def build_spec(spec: ZooSpec) -> nn.Module:
    """The untrained network of ``spec``: a zoo name, a sized architecture, or a timm model (random weights)."""
    if spec.arch.startswith(TIMM):
        return _timm_model(**spec.kwargs)
    if spec.name in ARCHS:
        return ZOO.create(ARCHS[spec.name], **spec.kwargs)
    return build(spec.name)


def _timm_model(model_name: str, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    import timm

    if not timm.is_model(model_name):
        raise GenlensError(f"timm has no model '{model_name}'; list them with python -c \"import timm; "
                           "print(timm.list_models('*resnet*'))\"")
    try:  # transformers take the image size; convolutional models do not
        return timm.create_model(model_name, pretrained=False, num_classes=num_classes, in_chans=in_chans,
                                 img_size=img_size)
    except TypeError:
        return timm.create_model(model_name, pretrained=False, num_classes=num_classes, in_chans=in_chans)


def holdout_split(data: ImageData, fraction: float = 0.1) -> tuple[ImageData, ImageData]:
    """(train, test) of a data set without splits: a fixed-seed random ``fraction`` held out (at least one
    image), the same for every training seed."""
    n = len(data)
    if n < 2:
        raise GenlensError(f"{data.name} holds {n} image; a classifier needs at least 2 (one held out to test)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    k = max(1, round(n * fraction))
    return data.subset(order[k:].sort().values), data.subset(order[:k].sort().values)
