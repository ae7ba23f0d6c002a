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


def cached_anchored_tokens(prompts: Sequence[str], *, k: int, max_tokens: int, caption_round: int,
                           encoder_name: str = "minilm", cache_dir: str | os.PathLike | None = None,
                           pooled: bool = False) -> tuple[torch.Tensor, torch.Tensor, list[list[str]]]:
    """Caption-anchored conditions of ``prompts`` (:mod:`genlens.diffusion.anchors`): tokens (P, 1 + K, T, D)
    with the prompt in slot 0, mask (P, 1 + K, T) and each prompt's K anchor captions, drawn from the captions
    of ``caption_round`` only (the model's own). Cached like :func:`cached_prompt_tokens`, keyed by the
    prompts, K, the round and its captions' hash (a file made from another caption set is never reused); a
    miss loads the encoder and (the first time) indexes the round's captions."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from genlens.data.captions import all_captions
    from genlens.diffusion.text import caption_source
    from genlens.utils.io import atomic_write

    texts, labels = all_captions(caption_round)
    tag = f"anchors{k}-round{caption_round}-{caption_source(encoder_name, texts, labels).split('/')[-1]}"
    path = prompt_cache_path([tag, *prompts], max_tokens=max_tokens, encoder_name=encoder_name,
                             cache_dir=cache_dir, pooled=pooled)
    if path.is_file():
        with safe_open(str(path), framework="pt") as f:
            tokens, mask = f.get_tensor("tokens"), f.get_tensor("mask")
            anchors = json.loads((f.metadata() or {}).get("anchors", "[]"))
        if tokens.shape[:3] == (len(prompts), 1 + k, max_tokens) and len(anchors) == len(prompts):
            return tokens.float(), mask.bool(), anchors
    from genlens.diffusion.anchors import anchored_tokens, caption_index, find_anchors
    from genlens.text import load_text_encoder

    encoder = load_text_encoder(encoder_name)
    found = find_anchors(encoder, prompts, caption_index(encoder, caption_round=caption_round, cache_dir=cache_dir), k)
    tokens, mask = anchored_tokens(encoder, found, max_tokens=max_tokens, pooled=pooled)
    atomic_write(path, lambda p: save_file({"tokens": tokens.float().contiguous(), "mask": mask.to(torch.uint8)},
                                           str(p), metadata={"anchors": json.dumps(found.texts)}))
    return tokens.float(), mask.bool(), found.texts
