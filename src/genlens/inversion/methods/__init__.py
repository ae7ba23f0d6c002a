"""Inversion methods by name: each entry is a ``run(handle, targets, *, config, generator, steps_scale,
callback)`` function; its typed presets travel in the registry's meta (``presets``, ``default``, and
``aliases``: old preset names that still work)."""
from __future__ import annotations

from genlens.inversion.methods.common import MethodFn
from genlens.inversion.methods.deepdream import DEEPDREAM_PRESETS, DeepDreamConfig, run_deepdream
from genlens.inversion.methods.deepinversion import (
                           DEEPINVERSION_PRESETS,
                           DeepInversionConfig,
                           run_deepinversion,
)
from genlens.inversion.methods.pii import PII_ALIASES, PII_PRESETS, PIIConfig, run_pii
from genlens.registry import Registry

INVERSION_METHODS: Registry[MethodFn] = Registry("inversion method")
INVERSION_METHODS.register("pii", presets=PII_PRESETS, default="pii-tuned", config=PIIConfig,
                           aliases=PII_ALIASES)(run_pii)
INVERSION_METHODS.register("deepdream", presets=DEEPDREAM_PRESETS, default="deepdream",
                           config=DeepDreamConfig)(run_deepdream)
INVERSION_METHODS.register("deepinversion", presets=DEEPINVERSION_PRESETS, default="deepinversion",
                           config=DeepInversionConfig)(run_deepinversion)

__all__ = ["INVERSION_METHODS", "DeepDreamConfig", "DeepInversionConfig", "PIIConfig"]
