"""A model's recommended sampling settings, stored in its folder's ``config.json`` under ``"sampling"``.

Guidance settings are a property of the trained model, not of the sampler: the guidance interval
(Kynkäänniemi et al. 2024, "Applying Guidance in a Limited Interval Improves Sample and Distribution Quality")
lowers FID/KID on the shipped class model but costs the text model held-out prompt accuracy (README,
"Guidance interval"). So each model folder carries its own choice, with a note saying where it was measured,
and ``diffusion sample`` / ``diffusion eval`` use it unless ``--guidance-interval`` overrides it.

``config.json``: ``{"sampling": {"guidance_interval": [lo, hi] | null, "note": "..."}}``. A folder without the
block samples with plain classifier-free guidance at every step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlens.diffusion.guidance import check_interval
from genlens.errors import GenlensError

OFF_WORDS = ("none", "off", "all")  # --guidance-interval none: guide at every step, whatever the model says


@dataclass(frozen=True)
class SamplingDefaults:
    """``guidance_interval``: (t_lo, t_hi) in training timesteps, or None for guidance at every step;
    ``note``: where the choice was measured (a results file, the numbers)."""

    guidance_interval: tuple[int, int] | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"guidance_interval": list(self.guidance_interval) if self.guidance_interval else None,
                "note": self.note}

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
        return cls(guidance_interval=interval, note=str(d.get("note", "")))


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
