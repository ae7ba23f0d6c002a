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
ε_u' + s (ε_c' − ε_u'). Each autoguided step evaluates both networks, so it costs about twice as much;
``interval`` (training timesteps) limits the extra network to part of the trajectory.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genlens.diffusion.guidance import check_interval
from genlens.errors import GenlensError


def check_guide_weight(weight: float) -> float:
    """w of eq. 2: 1 = the good model alone, > 1 extrapolates away from the guide (Karras et al. use 1.2–3)."""
    w = float(weight)
    if not w >= 1.0 or w > 20.0:
        raise GenlensError(f"guide weight {weight} must lie in [1, 20] (1 = no autoguidance; about 2 is a good start)")
    return w


class AutoGuided(nn.Module):
    """ε_bad + w (ε_good − ε_bad) (Karras et al. 2024, eq. 2) for any condition; behaves like the good model
    (``config``, ``cond_kind``, parameters first) so samplers, CFG and prompt anchoring wrap it unchanged."""

    def __init__(self, good: nn.Module, bad: nn.Module, weight: float,
                 interval: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.good, self.bad = good, bad
        self.weight = check_guide_weight(weight)
        self.interval = check_interval(interval, 10**9)
        self.config, self.cond_kind = good.config, good.cond_kind

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, cond: Any = None,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        kw = {} if drop is None else {"drop": drop}
        good = self.good(x, t, cond, **kw)
        if self.weight == 1.0:
            return good
        w: float | torch.Tensor = self.weight
        if self.interval is not None:
            tt = torch.as_tensor(t, device=x.device)
            inside = (tt >= self.interval[0]) & (tt <= self.interval[1])
            if not bool(inside.any()):
                return good  # no row autoguided: skip the second network
            if not bool(inside.all()):
                w = torch.where(inside, self.weight, 1.0).to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
        bad = self.bad(x, t, cond, **kw)
        return bad + w * (good - bad)  # Karras et al. 2024, eq. 2


def check_guide_compatible(good, bad) -> None:
    """A guide must denoise the same thing: same conditioning kind, image shape, classes, text encoder and noise
    schedule (``good``/``bad`` are :class:`~genlens.diffusion.io.DiffusionBundle`). One line naming the mismatch."""
    checks = {
        "kind": (good.kind, bad.kind),
        "image size": (good.model.config.sample_size, bad.model.config.sample_size),
        "channels": (good.model.config.in_channels, bad.model.config.in_channels),
        "classes": (tuple(good.class_names), tuple(bad.class_names)),
        "text encoder": (good.text_encoder, bad.text_encoder),
        "noise schedule": (good.schedule.to_dict(), bad.schedule.to_dict()),
    }
    for what, (a, b) in checks.items():
        if a != b:
            raise GenlensError(f"guide model '{bad.folder}' differs from '{good.folder}' in its {what} ({b} vs {a}); "
                               "a guide must be an earlier or smaller version of the same model")


def with_guide(bundle, plan, *, device: str | torch.device = "cpu", verify: bool = True
               ) -> tuple[nn.Module, dict[str, Any]]:
    """``bundle``'s denoiser wrapped for the autoguidance ``plan`` (a
    :class:`~genlens.diffusion.defaults.GuidePlan`), and the record results carry (the guide's folder, the sha256
    its manifest holds, w, interval, source). No guide: the denoiser itself."""
    from genlens.diffusion.io import load_diffusion
    from genlens.models.weights_io import WEIGHTS_FILE
    from genlens.utils.io import read_json

    if plan.folder is None:
        return bundle.model, plan.record()
    if not plan.folder.is_dir():
        raise GenlensError(f"guide model folder '{plan.folder}' does not exist; pass --guide-model FOLDER (an "
                           "earlier or smaller version of the same model) or --guide-model none")
    guide = load_diffusion(plan.folder, device=device, verify=verify)
    check_guide_compatible(bundle, guide)
    manifest = plan.folder / "manifest.json"
    sha = read_json(manifest).get("sha256", {}).get(WEIGHTS_FILE) if manifest.is_file() else None
    return AutoGuided(bundle.model, guide.model, plan.weight, plan.interval), plan.record(sha)
