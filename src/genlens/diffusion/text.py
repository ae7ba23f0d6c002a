"""Text conditions for the denoiser: MiniLM token embeddings of prompts and of every training caption.

The caption table (all Fashion-MNIST captions from :mod:`genlens.data.captions`, about 10,000) is encoded
once and cached on disk, keyed by the encoder, the token count and a hash of the captions.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from genlens.diffusion.train import CaptionTable


def encode_prompts(encoder, prompts: Sequence[str], *, max_tokens: int, pooled: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T, 384) token embeddings and (N, T) bool mask; bad prompts raise one-line errors (``encoder.check``).
    ``pooled``: slot 0 is the sentence's mean token (a model trained with ``UNetConfig.pooled_token``)."""
    texts = [encoder.check(p) for p in prompts]
    if pooled:
        return encoder.encode_tokens(texts, max_tokens=max_tokens, pooled=True)
    return encoder.encode_tokens(texts, max_tokens=max_tokens)


def token_layout(config) -> dict:
    """How a text model's prompts are encoded: ``{"max_tokens": T, "pooled": bool}`` from its UNetConfig."""
    return {"max_tokens": int(config.max_tokens), "pooled": bool(getattr(config, "pooled_token", False))}


def caption_source(encoder_name: str, texts: Sequence[str], labels: Sequence[int]) -> str:
    """``"<encoder>/<sha256 of the captions and their classes, 16 hex>"``: names a caption table in run configs."""
    blob = "\n".join(f"{int(y)}\t{t}" for t, y in zip(texts, labels, strict=True))
    return f"{encoder_name}/{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _cache_path(name: str, texts: Sequence[str], max_tokens: int, cache_dir: str | os.PathLike | None,
                pooled: bool = False) -> Path:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    folder = (Path(cache_dir) if cache_dir else
              Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genlens" / "text")
    return folder / f"{name}-tokens{max_tokens}{'-pooled' if pooled else ''}-{key}.safetensors"


def build_caption_table(encoder, *, max_tokens: int, caption_round: int, cache_dir: str | os.PathLike | None = None,
                        batch: int = 256, pooled: bool = False) -> CaptionTable:
    """Token embeddings of every training caption of ``caption_round``, with their labels (cached on disk)."""
    from safetensors.torch import load_file, save_file

    from genlens.data.captions import all_captions
    from genlens.utils.io import atomic_write

    texts, labels = all_captions(caption_round)
    path = _cache_path(encoder.name, texts, max_tokens, cache_dir, pooled)
    source = caption_source(encoder.name, texts, labels)
    if path.is_file():
        saved = load_file(str(path))
        if saved["tokens"].shape[:2] == (len(texts), max_tokens):
            return CaptionTable(saved["tokens"].float(), saved["mask"].bool(), torch.tensor(labels), source)
    parts = [encode_prompts(encoder, texts[i:i + batch], max_tokens=max_tokens, pooled=pooled)
             for i in range(0, len(texts), batch)]
    tokens = torch.cat([p[0] for p in parts]).half()  # fp16 on disk and in memory: 10k × T × 384
    mask = torch.cat([p[1] for p in parts])
    atomic_write(path, lambda p: save_file({"tokens": tokens.contiguous(), "mask": mask.to(torch.uint8)}, str(p)))
    return CaptionTable(tokens.float(), mask, torch.tensor(labels), source)
