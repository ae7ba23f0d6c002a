"""Token embeddings of a few prompts, cached on disk so that showing a prompt gallery again (the tour, the
explorer) does not need to load the sentence encoder (seconds) when the prompts have been seen before."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import torch


def prompt_cache_path(prompts: Sequence[str], *, max_tokens: int, encoder_name: str = "minilm",
                      cache_dir: str | os.PathLike | None = None, pooled: bool = False) -> Path:
    key = hashlib.sha256("\n".join(prompts).encode()).hexdigest()[:16]
    folder = (Path(cache_dir) if cache_dir else
              Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genlens" / "text")
    return folder / f"{encoder_name}-prompts-tokens{max_tokens}{'-pooled' if pooled else ''}-{key}.safetensors"


def cached_prompt_tokens(prompts: Sequence[str], *, max_tokens: int, encoder_name: str = "minilm",
                         cache_dir: str | os.PathLike | None = None, pooled: bool = False
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, T, D) token embeddings and (P, T) bool mask of ``prompts``; the encoder loads only on a cache miss."""
    from safetensors.torch import load_file, save_file

    from genlens.utils.io import atomic_write

    path = prompt_cache_path(prompts, max_tokens=max_tokens, encoder_name=encoder_name, cache_dir=cache_dir,
                             pooled=pooled)
    if path.is_file():
        saved = load_file(str(path))
        if saved["tokens"].shape[:2] == (len(prompts), max_tokens):
            return saved["tokens"].float(), saved["mask"].bool()
    from genlens.diffusion.text import encode_prompts
    from genlens.text import load_text_encoder

    tokens, mask = encode_prompts(load_text_encoder(encoder_name), prompts, max_tokens=max_tokens, pooled=pooled)
    atomic_write(path, lambda p: save_file({"tokens": tokens.float().contiguous(), "mask": mask.to(torch.uint8)},
                                           str(p)))
    return tokens.float(), mask.bool()
