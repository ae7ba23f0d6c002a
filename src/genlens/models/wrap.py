"""``genlens.wrap(module, ...)``: any PyTorch classifier as the same :class:`ModelHandle` the zoo returns.

The handle carries what every tool needs besides the module: preprocessing (``mean``/``std`` of the
normalisation the module expects after images in [0, 1]), the input size, class names, the layer whose
input is the penultimate feature vector (FID/KID features) and a Grad-CAM layer. Inversion, Grad-CAM,
unit visualization, the dead-unit census, judging and the metrics then work on it unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.utils.modes import eval_mode

Stats = float | Sequence[float]


def _per_channel(value: Stats, channels: int, what: str) -> tuple[float, ...]:
    values = (float(value),) * channels if isinstance(value, (int, float)) else tuple(float(v) for v in value)
    if len(values) != channels:
        raise GenlensError(f"{what} has {len(values)} values for {channels} input channels; give one per channel "
                           "(or a single number)")
    if what == "std" and any(v <= 0 for v in values):
        raise GenlensError(f"std must be positive, got {values}")
    return values


def _size(input_size: int | Sequence[int], channels: int | None, mean: Stats) -> tuple[int, int, int]:
    """(C, H, W) from ``input_size`` (N, (H, W) or (C, H, W)), ``channels`` and the length of ``mean``."""
    dims = (int(input_size),) * 2 if isinstance(input_size, int) else tuple(int(v) for v in input_size)
    if len(dims) not in (2, 3) or any(d < 1 for d in dims):
        raise GenlensError(f"input_size must be N, (H, W) or (C, H, W) with positive sizes, got {input_size!r}")
    from_mean = None if isinstance(mean, (int, float)) else len(tuple(mean))
    c = dims[0] if len(dims) == 3 else channels if channels is not None else from_mean or 3
    for other, where in ((channels, "channels"), (from_mean, "mean")):
        if other is not None and other != c:
            raise GenlensError(f"input_size/channels/mean disagree on the number of channels ({c} vs {where} "
                               f"{other}); give the same count everywhere")
    if c not in (1, 3):
        raise GenlensError(f"channels must be 1 (grey) or 3 (RGB), got {c}")
    return c, dims[-2], dims[-1]


def _probe_classes(module: nn.Module, size: tuple[int, int, int], name: str) -> int:
    """The number of logits the module returns for one batch of zeros (one line when it fails)."""
    p = next(module.parameters(), None)
    x = torch.zeros(2, *size, device=p.device if p is not None else "cpu")
    try:
        with torch.no_grad(), eval_mode(module):
            out = module(x)
    except Exception as e:
        raise GenlensError(f"{name} fails on a {tuple(x.shape)} input ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:120] if str(e) else ''}); check input_size and channels") from e
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or not out.is_floating_point():
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise GenlensError(f"{name} returns {shape}, not logits (B, num_classes); wrap a module whose forward "
                           "returns one logit per class")
    return int(out.shape[1])


def _last(module: nn.Module, kind: type[nn.Module]) -> str | None:
    names = [n for n, m in module.named_modules() if n and isinstance(m, kind)]
    return names[-1] if names else None


def wrap(module: nn.Module, *, mean: Stats = 0.0, std: Stats = 1.0, input_size: int | Sequence[int],
         class_names: Sequence[str] | int | None = None, channels: int | None = None, name: str | None = None,
         features_layer: str | None = None, cam_layer: str | None = None) -> ModelHandle:
    """A :class:`ModelHandle` on ``module``, a classifier that maps normalised images to logits (B, K).

    ``mean``/``std``: the per-channel normalisation applied to [0, 1] images before ``module`` (a single number
    for every channel; the defaults feed [0, 1] unchanged); ``input_size``: N, (H, W) or (C, H, W); ``channels``:
    1 or 3 (else from ``input_size`` or ``mean``, else 3); ``class_names``: names, a count, or None (found by one
    forward, named ``class_<i>``). ``features_layer``: the layer whose input is the penultimate feature vector
    (default: the last ``nn.Linear`` when the module has no timm-style ``forward_features``/``forward_head``);
    ``cam_layer``: the default Grad-CAM layer (default: timm/torchvision conventions, else the last ``Conv2d``).
    The module's device and train/eval mode are left as they are (every tool runs it under ``eval_mode``).
    """
    if not isinstance(module, nn.Module):
        raise GenlensError(f"genlens.wrap takes a torch.nn.Module, got {type(module).__name__}")
    label = name or type(module).__name__
    if isinstance(class_names, str):
        raise GenlensError(f"class_names of {label} is one string; give a list of names (or a count)")
    size = _size(input_size, channels, mean)
    k = _probe_classes(module, size, label)
    if class_names is None or isinstance(class_names, int):
        count = k if class_names is None else int(class_names)
        class_names = [f"class_{i}" for i in range(count)]
    names = tuple(str(c) for c in class_names)
    if len(names) != k:
        raise GenlensError(f"{len(names)} class names given but {label} returns {k} logits; give one name per logit")
    if len(set(names)) != len(names):
        raise GenlensError(f"class names of {label} repeat; give each class a distinct name")
    timm_style = hasattr(module, "forward_features") and hasattr(module, "forward_head")
    feats = features_layer or (None if timm_style else _last(module, nn.Linear))
    handle = ModelHandle(model=module, name=label, mean=_per_channel(mean, size[0], "mean"),
                         std=_per_channel(std, size[0], "std"), input_size=size, class_names=names,
                         arch=type(module).__name__, meta={"source": "wrap"}, features_layer=feats)
    for given in (features_layer, cam_layer):
        if given is not None:
            handle.layer(given)  # one line listing the layers when unknown
    handle.meta["cam_layer"] = cam_layer or _default_cam_layer(handle)
    return handle


def _default_cam_layer(handle: ModelHandle) -> str | None:
    from genlens.attribution.gradcam import default_layer

    try:
        return default_layer(handle)
    except GenlensError:
        return _last(handle.model, nn.Conv2d)
