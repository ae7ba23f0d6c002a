"""A classifier plus everything needed to feed it (DESIGN.md section 3, "Model handle").

Inversion, CAM and metrics take handles, never raw assumptions about ImageNet: images are in [0, 1]
and the handle normalises with its own ``mean``/``std``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from genlens.data.base import resolve_class
from genlens.errors import GenlensError


@dataclass(eq=False)
class ModelHandle:
    model: nn.Module
    name: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: tuple[int, int, int]  # (C, H, W)
    class_names: tuple[str, ...]
    arch: str = "unknown"
    meta: dict[str, Any] = field(default_factory=dict)
    # a model without timm's forward_features/forward_head: the layer whose INPUT is the penultimate feature
    # vector (usually the final nn.Linear); set by genlens.wrap
    features_layer: str | None = None
    antialias: bool = True  # resize with antialiasing; False where a reference pipeline did not (FID Inception)

    def __post_init__(self) -> None:
        c = self.input_size[0]
        if len(self.mean) != c or len(self.std) != c:
            raise ValueError(f"mean/std need {c} values for {c} input channels")

    # --- preprocessing -------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        p = next(self.model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to(self, device: torch.device | str) -> ModelHandle:
        self.model.to(device)
        return self

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] images -> model input. (B, C, H, W); resizes if the spatial size differs."""
        c, h, w = self.input_size
        if x.ndim != 4 or x.shape[1] != c:
            raise GenlensError(f"{self.name} expects images shaped (B, {c}, {h}, {w}); got {tuple(x.shape)}")
        if x.shape[-2:] != (h, w):
            x = nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                                          antialias=self.antialias)
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, c, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, c, 1, 1)
        return (x - mean) / std

    # --- forward -------------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for [0, 1] images."""
        return self.model(self.normalize(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (pre-logits) features for [0, 1] images: (B, D)."""
        xn = self.normalize(x)
        m = self.model
        if hasattr(m, "forward_features") and hasattr(m, "forward_head"):
            return m.forward_head(m.forward_features(xn), pre_logits=True)
        if self.features_layer is not None:
            return self._input_of(self.features_layer, xn)
        raise GenlensError(f"{self.name} has no forward_features/forward_head; pass features_layer= to "
                           "genlens.wrap (the layer whose input is the penultimate feature vector, e.g. fc)")

    def _input_of(self, layer: str, xn: torch.Tensor) -> torch.Tensor:
        """(B, D): the flattened input of ``layer`` during one forward of the model on normalised ``xn``."""
        seen: list[torch.Tensor] = []

        def grab(_module: nn.Module, args: tuple[Any, ...]) -> None:
            seen.append(args[0])

        hook = self.layer(layer).register_forward_pre_hook(grab)
        try:
            self.model(xn)
        finally:
            hook.remove()
        if not seen:
            raise GenlensError(f"{self.name}: layer '{layer}' did not run in forward; pass another features_layer")
        return seen[-1].flatten(1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
        """Logits for many [0, 1] images, batched, in eval mode, on the model's device."""
        from genlens.utils.modes import eval_mode

        out = []
        with eval_mode(self.model):
            for i in range(0, x.shape[0], batch_size):
                out.append(self(x[i : i + batch_size].to(self.device)).float().cpu())
        return torch.cat(out) if out else torch.empty(0, self.num_classes)

    # --- classes and layers ----------------------------------------------------------------------
    def class_index(self, name_or_index: str | int) -> int:
        return resolve_class(name_or_index, self.class_names)

    def named_layers(self) -> dict[str, nn.Module]:
        return {n: m for n, m in self.model.named_modules() if n}

    def layer(self, name: str) -> nn.Module:
        layers = self.named_layers()
        if name not in layers:
            tops = sorted({n.split(".")[0] for n in layers})
            hint = [n for n in layers if n.startswith(name.split(".")[0])][:12]
            raise GenlensError(
                f"{self.name} has no layer '{name}'; top-level layers: {', '.join(tops)}"
                + (f"; e.g. {', '.join(hint)}" if hint else "")
            )
        return layers[name]
