"""Attribution: Grad-CAM (one torch-native implementation for explanations and EqGAN-SA training)."""
from __future__ import annotations

from genlens.attribution.gradcam import (
    CAM_METHODS,
    CAMResult,
    GradCAM,
    GradCAMPlusPlus,
    default_layer,
    grad_cam,
    handle_cam,
    normalize_cam,
    tokens_to_map,
    upsample_cam,
)
from genlens.attribution.hooks import ActivationCapture
from genlens.attribution.overlay import COLORMAPS, colorize, overlay

__all__ = [
    "CAM_METHODS",
    "COLORMAPS",
    "ActivationCapture",
    "CAMResult",
    "GradCAM",
    "GradCAMPlusPlus",
    "colorize",
    "default_layer",
    "grad_cam",
    "handle_cam",
    "normalize_cam",
    "overlay",
    "tokens_to_map",
    "upsample_cam",
]
