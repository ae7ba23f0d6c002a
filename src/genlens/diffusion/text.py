"""Text conditions for the denoiser: MiniLM token embeddings of prompts and of every training caption.

A caption table (:class:`~genlens.diffusion.train.CaptionTable`) is encoded once and cached on disk, keyed by the
encoder, the token layout and a hash of the captions. It holds either every Fashion-MNIST caption of a round
(:mod:`genlens.data.captions`, about 10,000, each describing a class) or, for data with its own captions (a
folder's ``captions.jsonl`` or ``.txt`` files), each image's caption (:func:`caption_table` picks).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from genlens.diffusion.train import CaptionTable
from genlens.errors import GenlensError


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


def caption_table(data, encoder, *, max_tokens: int, pooled: bool = False, caption_round: int,
                  cache_dir: str | os.PathLike | None = None) -> CaptionTable:
    """The caption table to train ``data`` (ImageData) with ``--cond text``.

    Data with captions (``data.captions``, one text per image, ``""`` where an image has none): every image's
    own caption (:func:`image_caption_table`); images without one train with the null condition, the
    unconditional branch of classifier-free guidance (they still teach the model the images, and a prompt
    never learns to mean "no caption"). Data without captions but with Fashion-MNIST's classes: the caption
    round's captions of each image's class (:func:`build_caption_table`). Anything else: one line saying how
    to caption the data."""
    from genlens.data.fashion_mnist import CLASS_NAMES

    if getattr(data, "captions", None) is not None:
        return image_caption_table(encoder, data.captions, max_tokens=max_tokens, pooled=pooled, cache_dir=cache_dir)
    if tuple(data.class_names) == CLASS_NAMES:
        return build_caption_table(encoder, max_tokens=max_tokens, caption_round=caption_round, cache_dir=cache_dir,
                                   pooled=pooled)
    raise GenlensError(f"--cond text needs captions, and {getattr(data, 'name', 'the data')} has neither captions "
                       "nor Fashion-MNIST's classes; add ROOT/captions.jsonl (lines {\"file\": \"a/1.png\", "
                       "\"text\": \"...\"}) or a .txt beside each image")


def image_caption_table(encoder, captions: Sequence[str], *, max_tokens: int, pooled: bool = False,
                        cache_dir: str | os.PathLike | None = None, batch: int = 256) -> CaptionTable:
    """A per-image table: row i of ``captions`` (``""``: no caption) is image i's caption; images without one
    have no row (they train with the null condition, :meth:`CaptionTable.captioned`). A caption the encoder
    refuses (too long) is one line naming the image."""
    keys = [i for i, t in enumerate(captions) if t and t.strip()]
    if not keys:
        raise GenlensError(f"none of the {len(captions)} images has a caption; add ROOT/captions.jsonl or a .txt "
                           "beside each image, or train without --cond text")
    texts = []
    for i in keys:
        try:
            texts.append(encoder.check(captions[i]))
        except GenlensError as exc:
            raise GenlensError(f"the caption of image {i} ({captions[i][:40]!r}...) is refused: {exc}") from None
    tokens, mask = _encoded(encoder, texts, max_tokens=max_tokens, pooled=pooled, cache_dir=cache_dir, batch=batch)
    return CaptionTable(tokens, mask, torch.tensor(keys), caption_source(encoder.name, texts, keys), per_image=True,
                        groups=len(captions))


def build_caption_table(encoder, *, max_tokens: int, caption_round: int, cache_dir: str | os.PathLike | None = None,
                        batch: int = 256, pooled: bool = False) -> CaptionTable:
    """Token embeddings of every training caption of ``caption_round``, with their labels (cached on disk)."""
    from genlens.data.captions import all_captions

    texts, labels = all_captions(caption_round)
    tokens, mask = _encoded(encoder, texts, max_tokens=max_tokens, pooled=pooled, cache_dir=cache_dir, batch=batch)
    return CaptionTable(tokens, mask, torch.tensor(labels), caption_source(encoder.name, texts, labels))


def _encoded(encoder, texts: Sequence[str], *, max_tokens: int, pooled: bool, cache_dir: str | os.PathLike | None,
             batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings (float32) and bool mask of ``texts``, from the disk cache when it holds them."""
    from safetensors.torch import load_file, save_file

    from genlens.utils.io import atomic_write

    path = _cache_path(encoder.name, texts, max_tokens, cache_dir, pooled)
    if path.is_file():
        saved = load_file(str(path))
        if saved["tokens"].shape[:2] == (len(texts), max_tokens):
            return saved["tokens"].float(), saved["mask"].bool()
    parts = [encode_prompts(encoder, texts[i:i + batch], max_tokens=max_tokens, pooled=pooled)
             for i in range(0, len(texts), batch)]
    tokens = torch.cat([p[0] for p in parts]).half()  # fp16 on disk and in memory: 10k × T × 384
    mask = torch.cat([p[1] for p in parts])
    atomic_write(path, lambda p: save_file({"tokens": tokens.contiguous(), "mask": mask.to(torch.uint8)}, str(p)))
    return tokens.float(), mask
