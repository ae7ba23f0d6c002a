"""Classifier handles, our zoo, and loaders for external (timm/open_clip) models."""
from genlens.models.handle import ModelHandle
from genlens.models.wrap import wrap

__all__ = ["ModelHandle", "wrap"]
