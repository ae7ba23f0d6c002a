"""Image-text (CLIP-style) models: the offline ``fmnist-clip`` and local open_clip checkpoints."""
from genlens.clip.model import (
    FmnistClip,
    FmnistClipConfig,
    ImageTextModel,
    OpenClipModel,
    load_fmnist_clip,
    load_image_text_model,
)

__all__ = ["FmnistClip", "FmnistClipConfig", "ImageTextModel", "OpenClipModel", "load_fmnist_clip",
           "load_image_text_model"]
