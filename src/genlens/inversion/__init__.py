"""Inversion and feature visualisation, split lucid-style: parameterisations (``params``), transforms
(``augment``), objectives (``objectives``), the loop (``render``) and methods built from them
(``methods``: pii, deepdream, deepinversion), with ``invert`` as the one-call entry point."""
from genlens.inversion.api import invert, resolve_method
from genlens.inversion.augment import (
    AUGMENTATIONS,
    ColorShift,
    Compose,
    Ensemble,
    Flip,
    Jitter,
    RandomAffine,
    Repeat,
    center_crop,
    paste_center,
    zoom,
)
from genlens.inversion.context import Context, Objective
from genlens.inversion.methods import INVERSION_METHODS, DeepDreamConfig, DeepInversionConfig, PIIConfig
from genlens.inversion.objectives import OBJECTIVES
from genlens.inversion.params import PARAMETERISATIONS, BlurredPixelParam, FourierParam, NoiseInit, PixelParam
from genlens.inversion.render import AdamConfig, RenderDiverged, RenderResult, Stage, evaluate, render

__all__ = [
    "AUGMENTATIONS", "INVERSION_METHODS", "OBJECTIVES", "PARAMETERISATIONS",
    "AdamConfig", "BlurredPixelParam", "ColorShift", "Compose", "Context", "DeepDreamConfig", "DeepInversionConfig",
    "Ensemble", "Flip", "FourierParam", "Jitter", "NoiseInit", "Objective", "PIIConfig", "PixelParam",
    "RandomAffine", "RenderDiverged", "RenderResult", "Repeat", "Stage",
    "center_crop", "evaluate", "invert", "paste_center", "render", "resolve_method", "zoom",
]
