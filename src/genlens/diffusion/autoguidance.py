"""Autoguidance: guide a diffusion model with a weaker version of itself.

Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself" (arXiv 2406.02507), eq. 2:

    ε̃ = ε_bad + w · (ε_good − ε_bad)

where the "bad" model makes the same kind of errors as the good one, only more of them (same architecture and
data, fewer training steps or fewer parameters). Extrapolating away from it removes those errors without the
loss of diversity that classifier-free guidance trades for fidelity, so it lowers FID where CFG cannot; w = 1
is the good model alone.

:class:`AutoGuided` wraps any denoiser with the ``forward(x, t, cond, drop=None)`` interface and applies eq. 2
to whatever condition it is given, the null one included, so classifier-free guidance
(:class:`~genlens.diffusion.guidance.GuidedDenoiser`) wraps it unchanged: both of its branches are autoguided,
ε_u' + s (ε_c' − ε_u'). Each autoguided step evaluates both networks, so it costs about twice as much.
:class:`~genlens.diffusion.pipeline.DiffusionPipeline` loads a model's recommended guide and wraps it.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genlens.diffusion.config import check_guide_weight
from genlens.errors import GenlensError

__all__ = ["AutoGuided", "check_guide_compatible", "check_guide_weight"]


class AutoGuided(nn.Module):
    """ε_bad + w (ε_good − ε_bad) (Karras et al. 2024, eq. 2) for any condition; behaves like the good model
    (``config``, ``cond_kind``, parameters first) so samplers, CFG and prompt anchoring wrap it unchanged."""

    def __init__(self, good: nn.Module, bad: nn.Module, weight: float) -> None:
        super().__init__()
        self.good, self.bad = good, bad
        self.weight = check_guide_weight(weight)
        self.config, self.cond_kind = good.config, good.cond_kind

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, cond: Any = None,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        kw = {} if drop is None else {"drop": drop}
        good = self.good(x, t, cond, **kw)
        if self.weight == 1.0:
            return good
        bad = self.bad(x, t, cond, **kw)
        return bad + self.weight * (good - bad)  # Karras et al. 2024, eq. 2


def check_guide_compatible(good, bad) -> None:
    """A guide must denoise the same thing: same conditioning kind, image shape, classes, text encoder and noise
    schedule (``good``/``bad`` are :class:`~genlens.diffusion.io.DiffusionBundle`). One line naming the mismatch."""
    checks = {
        "kind": (good.kind, bad.kind),
        "image size": (good.model.config.sample_size, bad.model.config.sample_size),
        "channels": (good.model.config.in_channels, bad.model.config.in_channels),
        "classes": (tuple(good.class_names), tuple(bad.class_names)),
        "text encoder": (good.text_encoder, bad.text_encoder),
        "noise schedule": (good.schedule, bad.schedule),
    }
    for what, (a, b) in checks.items():
        if a != b:
            raise GenlensError(f"guide model '{bad.folder}' differs from '{good.folder}' in its {what} ({b} vs {a}); "
                               "a guide must be an earlier or smaller version of the same model")
