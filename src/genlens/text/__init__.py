"""Frozen text encoders (for text-prompt inversion and text-conditioned diffusion)."""
from genlens.text.encoder import (
    TEXT_ENCODERS,
    SentenceEncoder,
    TextEncoder,
    check_prompt,
    encode_cached,
    load_text_encoder,
)

__all__ = ["TEXT_ENCODERS", "SentenceEncoder", "TextEncoder", "check_prompt", "encode_cached", "load_text_encoder"]
