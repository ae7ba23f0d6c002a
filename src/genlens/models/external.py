"""timm classifiers from a local weights file (or the Hugging Face cache), wrapped in a ``ModelHandle``.

Spec strings (accepted by :func:`genlens.models.load.load_model` and every CLI command that takes a model):

- ``timm:<arch>:<weights file>``: build ``<arch>`` with timm (no download) and load a local ``.safetensors``
  file or a ``.pth``/``.bin``/``.pt`` state dict (read with ``torch.load(weights_only=True)``, never unpickled);
- ``timm:<arch>``: the weights file already in the local Hugging Face cache; a missing cache gives one line at
  once saying where to put a weights file, unless the user allowed a download (``--allow-download``,
  ``allow_download=True``): then timm's own loader fetches its pretrained weights.

The handle takes ``mean``/``std``/``input_size`` from timm's ``pretrained_cfg`` and ImageNet class names from
``timm.data.ImageNetInfo`` when the head has 1000 (or 21843/11821) outputs; other heads get ``class_<i>``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle

PREFIX = "timm:"
STATE_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def _import_timm():
    try:
        import timm
    except ImportError as e:  # pragma: no cover - timm is a dependency
        raise GenlensError("timm is not installed; pip install timm") from e
    return timm


def parse_timm_spec(spec: str) -> tuple[str, Path | None]:
    """``timm:<arch>[:<weights file>]`` -> (arch, weights path or None)."""
    if not spec.startswith(PREFIX):
        raise GenlensError(f"'{spec}' is not a timm spec; use timm:<arch>:<weights file>")
    arch, _, weights = spec[len(PREFIX):].partition(":")
    if not arch:
        raise GenlensError(f"'{spec}' names no architecture; use timm:<arch>:<weights file>, e.g. "
                           "timm:resnet50:/models/resnet50.safetensors")
    return arch, Path(weights) if weights else None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a local file without unpickling arbitrary objects."""
    if not path.is_file():
        raise GenlensError(f"weights file '{path}' not found; download it once and pass its path")
    if path.suffix not in STATE_SUFFIXES:
        raise GenlensError(f"'{path}' is not a weights file ({', '.join(STATE_SUFFIXES)})")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GenlensError(f"cannot read weights '{path}': {type(e).__name__}: {str(e).splitlines()[0][:160]}") from e
    for key in ("state_dict", "model", "model_ema"):  # common training-checkpoint wrappers
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GenlensError(f"'{path}' does not hold a plain state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def imagenet_names(num_classes: int) -> tuple[str, ...]:
    """Human-readable ImageNet class names from timm's bundled metadata (offline), else ``class_<i>``."""
    if num_classes in (1000, 11821, 21843):
        from timm.data import ImageNetInfo

        info = ImageNetInfo({1000: "imagenet-1k", 11821: "imagenet-12k", 21843: "imagenet-22k"}[num_classes])
        if info.num_classes() == num_classes:
            return tuple(info.index_to_description(i) for i in range(num_classes))
    return tuple(f"class_{i}" for i in range(num_classes))


def fetch_pretrained(arch: str) -> Any:
    """timm's ``arch`` with its pretrained weights through timm's own loader (the network, when not cached).

    Called only when the user allowed a download; a failure is one line."""
    timm = _import_timm()
    try:
        return timm.create_model(arch, pretrained=True)
    except Exception as e:
        raise GenlensError(f"timm could not fetch pretrained weights for '{arch}' ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:160] if str(e) else ''}); pass timm:{arch}:<weights file> "
                           "with a file you downloaded") from e


def load_timm(arch: str, weights: str | os.PathLike | None = None, *, download: bool = False,
              input_size: int | None = None, class_names: tuple[str, ...] | None = None,
              device: str | torch.device = "cpu") -> ModelHandle:
    """A handle on timm's ``arch``; ``weights`` a local file, else timm's pretrained weights when ``download``
    (the one path that may use the network), else random init (tests). ``input_size`` overrides the square
    input resolution (e.g. 224 for a convnet)."""
    timm = _import_timm()
    if arch not in timm.list_models():
        close = timm.list_models(f"*{arch.split('_')[0]}*")[:6]
        raise GenlensError(f"timm has no model '{arch}'" + (f"; similar: {', '.join(close)}" if close else ""))
    if download and weights is not None:
        raise GenlensError(f"timm:{arch}: give a weights file or download=True, not both")
    model = fetch_pretrained(arch) if download else timm.create_model(arch, pretrained=False)
    if weights is not None:
        state = read_state_dict(Path(weights))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise GenlensError(f"'{weights}' does not fit timm '{arch}': {len(missing)} missing keys (e.g. "
                               f"{list(missing)[:2]}), {len(unexpected)} unexpected (e.g. {list(unexpected)[:2]})")
    cfg = model.pretrained_cfg or {}
    c, h, w = cfg.get("input_size", (3, 224, 224))
    if input_size is not None:
        h = w = int(input_size)
    names = class_names or imagenet_names(model.num_classes)
    if len(names) != model.num_classes:
        raise GenlensError(f"{len(names)} class names given but '{arch}' has {model.num_classes} outputs")
    mean = tuple(float(v) for v in cfg.get("mean", (0.485, 0.456, 0.406)))
    std = tuple(float(v) for v in cfg.get("std", (0.229, 0.224, 0.225)))
    handle = ModelHandle(model=model.eval(), name=f"timm:{arch}", mean=mean, std=std, input_size=(c, h, w),
                         class_names=tuple(names), arch=arch,
                         meta={"source": "timm", "weights": str(weights) if weights else None,
                               "pretrained": "timm (downloaded)" if download else None})
    return handle.to(device)
