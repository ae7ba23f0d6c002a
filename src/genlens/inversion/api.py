"""``invert(handle, targets, method=..., preset=...)``: the one-call entry point the CLI mirrors."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.inversion.methods import INVERSION_METHODS
from genlens.inversion.methods.common import resolve_targets
from genlens.inversion.probe import check_invertible
from genlens.inversion.render import Callback
from genlens.models.handle import ModelHandle
from genlens.utils.device import resolve_device
from genlens.utils.seed import make_generator


def renamed_preset(name: str | None) -> str | None:
    """The current name of ``name`` when it is an old preset name (``pii`` -> ``pii-tuned``), else None; the
    CLI uses it for a one-line notice."""
    if not isinstance(name, str):
        return None
    for method in INVERSION_METHODS.available():
        aliases = INVERSION_METHODS.meta(method).get("aliases", {})
        if name in aliases:
            return aliases[name]
    return None


def resolve_method(method: str, preset: str | Any | None) -> tuple[str, Any]:
    """(method name, config dataclass). ``preset`` is a preset name, a config instance or None (the
    method's default); a preset name given as ``method`` (e.g. ``pii-literal``) also works, and so do old
    preset names (``pii`` for ``pii-tuned``: see :func:`renamed_preset`)."""
    if method not in INVERSION_METHODS:
        method = renamed_preset(method) or method
        for name in INVERSION_METHODS.available():
            if method in INVERSION_METHODS.meta(name)["presets"] and preset is None:
                return name, INVERSION_METHODS.meta(name)["presets"][method]
    meta = INVERSION_METHODS.meta(method)  # one-line error listing the methods
    presets, config_type = meta["presets"], meta["config"]
    if preset is None:
        return method, presets[meta["default"]]
    if isinstance(preset, config_type):
        return method, preset
    if isinstance(preset, str):
        preset = meta.get("aliases", {}).get(preset, preset)
        if preset in presets:
            return method, presets[preset]
    raise GenlensError(f"unknown preset '{preset}' for method {method}; choose one of: {', '.join(sorted(presets))}")


def invert(
    handle: ModelHandle | str,
    targets: int | str | Sequence[int | str] | torch.Tensor,
    *,
    method: str = "pii",
    preset: str | Any | None = None,
    n: int = 1,
    seed: int = 0,
    steps_scale: float = 1.0,
    callback: Callback | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Images that ``handle``'s model takes for each target class: (len(targets) * n, C, H, W) in [0, 1],
    on the CPU, target-major (the n images of the first target come first).

    ``targets``: class names or indices; ``method``: pii | deepdream | deepinversion; ``preset``: a preset
    name (``pii-tuned``, the default, or ``pii-literal`` ...) or a config dataclass; ``steps_scale``
    multiplies every step count (tests and previews); the same ``seed`` gives the same images on the same device; ``device`` moves the
    handle's model there first (None keeps it where it is). All images are optimised in one batch.
    """
    if isinstance(handle, str):
        from genlens.models.load import load_model

        handle = load_model(handle)
    if device is not None:
        handle = handle.to(resolve_device(device))
    if n < 1:
        raise GenlensError(f"n (images per class) must be at least 1, got {n}")
    name, config = resolve_method(method, preset)
    idx = resolve_targets(handle, targets)
    check_invertible(handle)
    rows = torch.tensor(idx, device=handle.device).repeat_interleave(n)
    generator = make_generator(seed, "cpu")  # CPU draws, moved to the device: same seed, same noise
    run = INVERSION_METHODS.get(name)
    images = run(handle, rows, config=config, generator=generator, steps_scale=steps_scale, callback=callback)
    return images.detach().float().cpu()
