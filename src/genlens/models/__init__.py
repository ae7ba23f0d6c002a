"""Classifier handles, our zoo, and loaders for external (timm/open_clip) models."""
from genlens.models.handle import ModelHandle

__all__ = ["ModelHandle"]
