"""Dead-unit census: for every ReLU/GELU layer, the fraction of units that never activate on a data set.

A unit is a channel of a conv feature map (B, C, H, W) or a feature of a token/vector activation
(..., D). It is *alive* if its activation output is > ``threshold`` for at least one position of one
image; otherwise it is dead. (For GELU, output > 0 exactly when the pre-activation is > 0, so the same
test applies.) Cf. Lu et al. 2019, "Dying ReLU and initialization", for why dead units matter.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.utils.modes import eval_mode

ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU)


@dataclass
class LayerCensus:
    name: str
    kind: str  # activation class name
    units: int
    dead: int
    max_activation: torch.Tensor = field(repr=False)  # (units,) largest output seen per unit

    @property
    def fraction_dead(self) -> float:
        return self.dead / self.units if self.units else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.name, "kind": self.kind, "units": self.units, "dead": self.dead,
                "fraction_dead": self.fraction_dead}


@dataclass
class DeadUnitReport:
    model: str
    images: int
    threshold: float
    layers: list[LayerCensus]

    @property
    def total_units(self) -> int:
        return sum(layer.units for layer in self.layers)

    @property
    def total_dead(self) -> int:
        return sum(layer.dead for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "images": self.images, "threshold": self.threshold,
                "total_units": self.total_units, "total_dead": self.total_dead,
                "fraction_dead": self.total_dead / max(1, self.total_units),
                "layers": [layer.to_dict() for layer in self.layers]}


def _unit_max(out: torch.Tensor) -> torch.Tensor:
    """Per-unit maximum over every other axis: channels for (B, C, H, W), last axis otherwise."""
    if out.ndim == 4:
        return out.detach().amax(dim=(0, 2, 3))
    return out.detach().reshape(-1, out.shape[-1]).amax(dim=0)


def dead_unit_census(handle: ModelHandle, images01: torch.Tensor, *, batch_size: int = 500, threshold: float = 0.0,
                     layer_types: tuple[type[nn.Module], ...] = ACTIVATIONS,
                     callback: Callable[[dict[str, Any]], None] | None = None) -> DeadUnitReport:
    """Run ``images01`` through the model (eval mode, no grad) and count never-active units per layer."""
    layers = [(n, m) for n, m in handle.model.named_modules() if isinstance(m, layer_types)]
    if not layers:
        raise GenlensError(f"{handle.name} has no ReLU/GELU-style activation modules to census "
                           "(functional activations cannot be hooked)")
    if images01.shape[0] == 0:
        raise GenlensError("the dead-unit census needs at least one image")
    maxima: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            m = _unit_max(out).float().cpu()
            maxima[name] = m if name not in maxima else torch.maximum(maxima[name], m)

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in layers]
    try:
        with eval_mode(handle.model), torch.no_grad():
            n = images01.shape[0]
            for i in range(0, n, batch_size):
                handle(images01[i : i + batch_size].to(handle.device))
                if callback is not None:
                    callback({"step": min(n, i + batch_size), "total": n})
    finally:
        for h in handles:
            h.remove()
    census = []
    for name, module in layers:
        if name not in maxima:  # a module that never ran (e.g. an unused head)
            continue
        mx = maxima[name]
        census.append(LayerCensus(name=name, kind=type(module).__name__, units=int(mx.numel()),
                                  dead=int((mx <= threshold).sum()), max_activation=mx))
    return DeadUnitReport(model=handle.name, images=int(images01.shape[0]), threshold=threshold, layers=census)
