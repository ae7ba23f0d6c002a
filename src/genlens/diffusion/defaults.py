"""A model's recommended sampling settings, stored in its folder's ``config.json`` under ``"sampling"``.

Guidance settings are a property of the trained model, not of the sampler: the guidance interval
(Kynkäänniemi et al. 2024, "Applying Guidance in a Limited Interval Improves Sample and Distribution Quality")
lowers FID/KID on the shipped class model but costs the text model held-out prompt accuracy (README,
"Guidance interval"). So each model folder carries its own choice, with a note saying where it was measured,
and ``diffusion sample`` / ``diffusion eval`` use it unless ``--guidance-interval`` overrides it.

The same block may name a guide model for autoguidance (Karras et al. 2024; :mod:`genlens.diffusion.autoguidance`):
an earlier or smaller version of the same model, extrapolated away from with weight w. ``diffusion sample`` /
``diffusion eval`` use it unless ``--guide-model`` / ``--guide-weight`` override it.

It may also name a timestep spacing (:mod:`genlens.diffusion.spacing`), which ``--timestep-spacing`` overrides.

``config.json``: ``{"sampling": {"guidance_interval": [lo, hi] | null, "guide_model": "folder" | null,
"guide_weight": w, "guide_interval": [lo, hi] | null, "timestep_spacing": "power:1.5", "note": "..."}}``. ``guide_model`` is a path relative to the
model folder's parent (so a sibling folder's name) or an absolute path. A folder without the block samples with
plain classifier-free guidance at every step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlens.diffusion.autoguidance import check_guide_weight
from genlens.diffusion.guidance import check_interval
from genlens.diffusion.spacing import TimestepSpacing
from genlens.errors import GenlensError

OFF_WORDS = ("none", "off", "all")  # --guidance-interval none: guide at every step, whatever the model says
GUIDE_OFF_WORDS = ("none", "off")  # --guide-model none: no autoguidance, whatever the model says


@dataclass(frozen=True)
class SamplingDefaults:
    """``guidance_interval``: (t_lo, t_hi) in training timesteps, or None for guidance at every step;
    ``guide_model``: the autoguidance guide (relative to the model folder's parent, or absolute), or None;
    ``guide_weight``: its w; ``guide_interval``: timesteps where it acts (None: every step);
    ``timestep_spacing``: the timesteps a few-step sampler visits (None: diffusers' ``leading``);
    ``note``: where the choices were measured (a results file, the numbers)."""

    guidance_interval: tuple[int, int] | None = None
    note: str = ""
    guide_model: str | None = None
    guide_weight: float = 1.0
    guide_interval: tuple[int, int] | None = None
    timestep_spacing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"guidance_interval": list(self.guidance_interval) if self.guidance_interval else None}
        if self.guide_model is not None:
            d |= {"guide_model": self.guide_model, "guide_weight": self.guide_weight,
                  "guide_interval": list(self.guide_interval) if self.guide_interval else None}
        if self.timestep_spacing is not None:
            d["timestep_spacing"] = self.timestep_spacing
        return d | {"note": self.note}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, num_train_timesteps: int = 1000) -> SamplingDefaults:
        if not d:
            return cls()
        if not isinstance(d, dict):
            raise GenlensError("config.json 'sampling' must be an object like {\"guidance_interval\": [150, 600]}; "
                               "rewrite it with `genlens diffusion defaults MODEL --guidance-interval LO,HI`")
        raw = d.get("guidance_interval")
        if raw is not None and (not isinstance(raw, (list, tuple)) or len(raw) != 2):
            raise GenlensError(f"config.json sampling.guidance_interval {raw!r} must be [lo, hi] or null; rewrite it "
                               "with `genlens diffusion defaults MODEL --guidance-interval LO,HI`")
        interval = check_interval(tuple(raw), num_train_timesteps) if raw is not None else None
        guide, graw = d.get("guide_model"), d.get("guide_interval")
        if guide is not None and (not isinstance(guide, str) or not guide.strip()):
            raise GenlensError(f"config.json sampling.guide_model {guide!r} must be a folder path or null; rewrite it "
                               "with `genlens diffusion defaults MODEL --guide-model FOLDER`")
        if graw is not None and (not isinstance(graw, (list, tuple)) or len(graw) != 2):
            raise GenlensError(f"config.json sampling.guide_interval {graw!r} must be [lo, hi] or null; rewrite it "
                               "with `genlens diffusion defaults MODEL --guide-model FOLDER`")
        try:
            weight = check_guide_weight(d.get("guide_weight", 2.0 if guide else 1.0))
        except (TypeError, ValueError):
            raise GenlensError(f"config.json sampling.guide_weight {d.get('guide_weight')!r} is not a number; rewrite "
                               "it with `genlens diffusion defaults MODEL --guide-weight W`") from None
        spacing = d.get("timestep_spacing")
        if spacing is not None:
            if not isinstance(spacing, str):
                raise GenlensError(f"config.json sampling.timestep_spacing {spacing!r} must be a string like "
                                   "\"power:1.5\"; rewrite it with `genlens diffusion defaults MODEL --timestep-spacing S`")
            spacing = str(TimestepSpacing.parse(spacing))
        return cls(guidance_interval=interval, note=str(d.get("note", "")), guide_model=guide, guide_weight=weight,
                   guide_interval=check_interval(tuple(graw), num_train_timesteps) if graw is not None else None,
                   timestep_spacing=spacing)


def parse_interval_flag(text: str | None) -> tuple[bool, tuple[int, int] | None]:
    """``--guidance-interval`` -> (given, interval). Not given -> (False, None): use the model's default;
    ``none``/``off``/``all`` -> (True, None): guide every step; ``LO,HI`` -> (True, (lo, hi)) after checking."""
    if text is None or not text.strip():
        return False, None
    if text.strip().lower() in OFF_WORDS:
        return True, None
    parts = text.split(",")
    try:
        lo, hi = (int(p) for p in parts)
    except ValueError:
        raise GenlensError(f"--guidance-interval '{text}' must be two integer timesteps LO,HI (e.g. 150,700) or "
                           "'none' for guidance at every step") from None
    return True, check_interval((lo, hi))


def resolve_interval(text: str | None, defaults: SamplingDefaults) -> tuple[tuple[int, int] | None, str]:
    """The interval to sample with and where it came from: ``"flag"`` (``--guidance-interval``), ``"model"``
    (the folder's recommendation) or ``"none"`` (neither: guidance at every step)."""
    given, interval = parse_interval_flag(text)
    if given:
        return interval, "flag"
    if defaults.guidance_interval is not None:
        return defaults.guidance_interval, "model"
    return None, "none"


def resolve_spacing(text: str | None, defaults: SamplingDefaults) -> tuple[str, str]:
    """The timestep spacing to sample with and where it came from: ``"flag"`` (``--timestep-spacing``),
    ``"model"`` (the folder's recommendation) or ``"default"`` (diffusers' ``leading``)."""
    if text is not None and text.strip():
        return str(TimestepSpacing.parse(text)), "flag"
    if defaults.timestep_spacing is not None:
        return defaults.timestep_spacing, "model"
    return str(TimestepSpacing()), "default"


def write_sampling_defaults(folder: str | os.PathLike, defaults: SamplingDefaults) -> Path:
    """Rewrite ``folder/config.json`` with ``defaults`` under ``"sampling"`` (atomically; the weights and their
    manifest sha256 are untouched, so the folder still verifies)."""
    from genlens.utils.io import atomic_write_json, read_json

    path = Path(folder) / "config.json"
    if not path.is_file():
        raise GenlensError(f"'{folder}' has no config.json; pass a folder written by `genlens diffusion train`")
    cfg = read_json(path)
    if not str(cfg.get("kind", "")).startswith("diffusion-"):
        raise GenlensError(f"'{folder}' holds a {cfg.get('kind', 'classifier')} model, not a diffusion model; "
                           "pass a folder written by `genlens diffusion train`")
    cfg["sampling"] = defaults.to_dict()
    return atomic_write_json(path, cfg)


@dataclass(frozen=True)
class GuidePlan:
    """The autoguidance to sample with: ``folder`` None = none; ``source`` says where it came from (``flag``,
    ``model`` or ``none``)."""

    folder: Path | None
    weight: float = 1.0
    interval: tuple[int, int] | None = None
    source: str = "none"

    def record(self, sha256: str | None = None) -> dict[str, Any]:
        """What results carry: the guide's folder, sha256, w, interval and source (folder null = none)."""
        if self.folder is None:
            return {"guide_model": None, "guide_source": self.source}
        return {"guide_model": str(self.folder), "guide_sha256": sha256, "guide_weight": self.weight,
                "guide_interval": list(self.interval) if self.interval else None, "guide_source": self.source}


def resolve_guide(model_flag: str | None, weight_flag: float | None, defaults: SamplingDefaults,
                  model_folder: str | os.PathLike) -> GuidePlan:
    """The guide to sample ``model_folder`` with. ``--guide-model none`` (or ``--guide-weight 1``) turns it off;
    ``--guide-model FOLDER`` picks one (w from ``--guide-weight``, else 2); otherwise the model's own
    recommendation, with ``--guide-weight`` overriding its w."""
    weight = check_guide_weight(weight_flag) if weight_flag is not None else None
    if (model_flag is not None and model_flag.strip().lower() in GUIDE_OFF_WORDS) or weight == 1.0:
        return GuidePlan(None, source="flag")
    if model_flag is not None and model_flag.strip():
        return GuidePlan(Path(model_flag), weight if weight is not None else 2.0, None, "flag")
    if defaults.guide_model is not None:
        folder = Path(defaults.guide_model)
        folder = folder if folder.is_absolute() else Path(model_folder).parent / folder
        return GuidePlan(folder, weight if weight is not None else defaults.guide_weight, defaults.guide_interval,
                         "model" if weight is None else "model+flag")
    if weight is not None:
        raise GenlensError(f"--guide-weight {weight_flag} needs a guide model, and this model recommends none; pass "
                           "--guide-model FOLDER (an earlier or smaller version of the same model)")
    return GuidePlan(None)
