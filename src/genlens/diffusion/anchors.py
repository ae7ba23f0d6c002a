"""Caption anchoring: condition a text denoiser on a prompt's nearest training captions.

A denoiser trained on caption embeddings only ever saw those vectors. A paraphrase never seen in training
("a bag for the groceries") sits, in MiniLM's pooled space, about as far from its nearest training caption
(median cosine 0.65 for the held-out prompts) as the class centroids sit from one another (0.58), so the
cross-attention is asked about inputs it never learned. Sentence-BERT, however, is trained to put
paraphrases next to each other in exactly that pooled space: its nearest training captions usually describe
the right garment even when the denoiser misreads the prompt's words.

Anchoring retrieves the K training captions nearest to the prompt (cosine of the pooled sentence
embeddings), as Retrieval-Augmented Diffusion Models do with a text query at inference (Blattmann et al.
2022, arXiv 2204.11824), and composes the conditional predictions as in Composable Diffusion (Liu et al.
2022, arXiv 2206.01714, eq. 10) with weights that sum to one, so one guidance scale s still applies:

    ε̃ = ε_u + s · ((1/K)·Σ_j ε(caption_j) − ε_u)

K = 0 is plain prompt conditioning. (Mixing the prompt's own prediction back in with a weight λ was measured
and not adopted; the results history keeps its numbers.) The captions come only from the caption round the
model was trained on (:func:`genlens.data.captions.all_captions` of its ``train.caption_round``; the shipped
text model: round 1), never from a later round it did not see, nor from the held-out prompts.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlens.errors import GenlensError


@dataclass(frozen=True)
class AnchorConfig:
    k: int = 8  # nearest training captions per prompt; 0 = plain prompt conditioning

    def __post_init__(self) -> None:
        if self.k < 0:
            raise GenlensError(f"anchors must be >= 0, got {self.k} (0 = condition on the prompt alone)")

    @property
    def active(self) -> bool:
        return self.k > 0

    def weights(self) -> torch.Tensor:
        """(1 + K,) weights of [prompt, caption_1..K]: the prompt's slot 0, each caption 1/K (they sum to one)."""
        if not self.active:
            return torch.ones(1)
        return torch.tensor([0.0] + [1.0 / self.k] * self.k)


@dataclass
class CaptionIndex:
    """Unit-norm pooled sentence embeddings of every training caption of one caption round, with texts and
    classes."""

    texts: list[str]
    labels: torch.Tensor  # (M,) long
    vectors: torch.Tensor  # (M, D) float, unit norm
    caption_round: int | None = None  # the round the captions come from (None: a hand-made index)

    def nearest(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices (P, k) and cosines (P, k) of the ``k`` captions nearest to unit-norm ``queries`` (P, D)."""
        if not 1 <= k <= len(self.texts):
            raise GenlensError(f"anchors must be between 1 and {len(self.texts)} (the caption count), got {k}")
        top = (queries.float() @ self.vectors.T).topk(k, dim=1)
        return top.indices, top.values


def caption_index_path(encoder_name: str, *, caption_round: int, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`caption_index` keeps the index of ``caption_round``'s captions (keyed by their hash)."""
    from genlens.data.captions import all_captions
    from genlens.diffusion.text import caption_source

    texts, labels = all_captions(caption_round)
    key = caption_source(encoder_name, texts, labels).replace("/", "-")
    folder = (Path(cache_dir) if cache_dir else
              Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genlens" / "text")
    return folder / f"{key}-pooled-index.safetensors"


def caption_index(encoder, *, caption_round: int, cache_dir: str | os.PathLike | None = None) -> CaptionIndex:
    """The pooled embeddings (``encoder.encode``) of the training captions of ``caption_round`` (the round the
    model to anchor was trained on, ``DiffusionBundle.caption_round``), cached on disk by caption-set hash.
    Building it encodes every caption once (about a minute on 2 CPU cores); later calls read the file."""
    from safetensors.torch import load_file, save_file

    from genlens.data.captions import all_captions
    from genlens.utils.io import atomic_write

    texts, labels = all_captions(caption_round)
    path = caption_index_path(encoder.name, caption_round=caption_round, cache_dir=cache_dir)
    if path.is_file():
        vectors = load_file(str(path))["vectors"].float()
        if vectors.shape[0] == len(texts):
            return CaptionIndex(list(texts), torch.tensor(labels), vectors, caption_round)
    vectors = torch.nn.functional.normalize(encoder.encode(texts).float(), dim=-1)
    atomic_write(path, lambda p: save_file({"vectors": vectors.half().contiguous()}, str(p)))
    return CaptionIndex(list(texts), torch.tensor(labels), vectors, caption_round)


@dataclass
class Anchors:
    """The captions each prompt is anchored to: texts (P lists of K), classes (P, K), cosines (P, K)."""

    prompts: list[str]
    texts: list[list[str]]
    labels: torch.Tensor
    cosine: torch.Tensor

    def to_records(self, class_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """JSON-ready: per prompt, its anchors with class and cosine (for run.json and eval.json)."""
        out = []
        for i, prompt in enumerate(self.prompts):
            out.append({"prompt": prompt, "anchors": [
                {"caption": t, "class": class_names[c] if class_names and c < len(class_names) else c,
                 "cosine": round(float(s), 4)}
                for t, c, s in zip(self.texts[i], self.labels[i].tolist(), self.cosine[i].tolist())]})
        return out


def find_anchors(encoder, prompts: Sequence[str], index: CaptionIndex, k: int) -> Anchors:
    """The ``k`` training captions nearest to each prompt (pooled MiniLM cosine)."""
    texts = [encoder.check(p) for p in prompts]
    queries = torch.nn.functional.normalize(encoder.encode(texts).float(), dim=-1)
    idx, cos = index.nearest(queries, k)
    return Anchors(texts, [[index.texts[j] for j in row] for row in idx.tolist()], index.labels[idx], cos)


def anchored_tokens(encoder, anchors: Anchors, *, max_tokens: int, pooled: bool, with_prompt: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings of [prompt, caption_1..K] per prompt: (P, 1 + K, T, D) and mask (P, 1 + K, T).
    ``with_prompt=False`` leaves the prompt's slot as a copy of caption_1 (its weight is zero)."""
    from genlens.diffusion.text import encode_prompts

    p, k = len(anchors.prompts), len(anchors.texts[0])
    flat = [t for row in anchors.texts for t in row]
    tok, mask = encode_prompts(encoder, flat, max_tokens=max_tokens, pooled=pooled)
    tok, mask = tok.view(p, k, *tok.shape[1:]), mask.view(p, k, -1)
    if with_prompt:
        ptok, pmask = encode_prompts(encoder, anchors.prompts, max_tokens=max_tokens, pooled=pooled)
    else:
        ptok, pmask = tok[:, 0], mask[:, 0]
    return torch.cat([ptok[:, None], tok], 1), torch.cat([pmask[:, None], mask], 1)


class AnchoredDenoiser(nn.Module):
    """Wraps a text :class:`~genlens.diffusion.unet.Denoiser`. ``forward(x, t, (tokens, mask), drop)`` takes
    tokens (B, 1 + K, T, D) and returns Σ_i w_i ε(x, t, condition_i) for rows that keep their condition and the
    null-condition ε for dropped rows, all in one forward pass of the inner model (what
    :class:`~genlens.diffusion.guidance.GuidedDenoiser` needs for its doubled batch)."""

    def __init__(self, model: nn.Module, config: AnchorConfig) -> None:
        super().__init__()
        if getattr(model, "cond_kind", None) != "text":
            raise GenlensError("caption anchors need a text-conditional model (trained with --cond text)")
        self.model = model
        self.anchor_config = config
        self.config = model.config
        self.cond_kind = model.cond_kind
        w = config.weights()
        self.register_buffer("w", w, persistent=False)
        # Conditions with zero weight (the prompt's own slot) are skipped, not evaluated.
        self._used = [i for i, v in enumerate(w.tolist()) if v > 0]

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, cond: Any, drop: torch.Tensor | None = None
                ) -> torch.Tensor:
        tokens, mask = cond
        if tokens.ndim != 4:
            raise GenlensError("anchored conditioning takes tokens of shape (B, 1 + K, T, D)")
        if tokens.shape[1] != self.w.numel() and self.anchor_config.active:
            raise GenlensError(f"got {tokens.shape[1] - 1} anchors per prompt, configured for {self.anchor_config.k}")
        b = x.shape[0]
        t = torch.as_tensor(t, device=x.device)
        t = t.expand(b) if t.ndim == 0 else t
        drop = torch.zeros(b, dtype=torch.bool, device=x.device) if drop is None else drop.to(x.device).bool()
        keep = (~drop).nonzero().flatten()
        nulls = drop.nonzero().flatten()
        used = torch.tensor(self._used, device=x.device)
        c = len(self._used)
        # One batch: c rows per kept sample (its weighted conditions), one null row per dropped sample.
        rows = torch.cat([keep.repeat_interleave(c), nulls])
        slot = torch.cat([used.repeat(len(keep)), torch.zeros(len(nulls), dtype=torch.long, device=x.device)])
        flag = torch.cat([torch.zeros(len(keep) * c, dtype=torch.bool, device=x.device),
                          torch.ones(len(nulls), dtype=torch.bool, device=x.device)])
        eps = self.model(x[rows], t[rows], (tokens[rows, slot], mask[rows, slot]), drop=flag)
        out = torch.empty_like(eps[:b]) if b else eps[:0]
        if len(keep):
            w = self.w.to(eps.dtype)[used].view(1, c, *([1] * (eps.ndim - 1)))
            out[keep] = (eps[:len(keep) * c].view(len(keep), c, *eps.shape[1:]) * w).sum(1)
        if len(nulls):
            out[nulls] = eps[len(keep) * c:]
        return out


def condition_prompts(model: nn.Module, encoder, prompts: Sequence[str], config: AnchorConfig, *,
                      caption_round: int, index: CaptionIndex | None = None
                      ) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor], Anchors | None]:
    """What to sample ``prompts`` with: the model (wrapped in :class:`AnchoredDenoiser` when ``config`` is
    active), the conditions (tokens (P, [1 + K,] T, D), mask) and the anchors found (None when plain).
    ``caption_round``: the round ``model`` was trained on; anchors come from its captions only (an ``index`` of
    another round is refused)."""
    from genlens.diffusion.text import encode_prompts, token_layout

    layout = token_layout(model.config)
    if not config.active:
        return model, encode_prompts(encoder, prompts, **layout), None
    if index is None:
        index = caption_index(encoder, caption_round=caption_round)
    elif index.caption_round not in (None, caption_round):
        raise GenlensError(f"the caption index holds round {index.caption_round} but the model was trained on round "
                           f"{caption_round}; anchor only to captions the model saw (caption_index(caption_round="
                           f"{caption_round}))")
    found = find_anchors(encoder, prompts, index, config.k)
    tokens = anchored_tokens(encoder, found, **layout, with_prompt=False)
    return AnchoredDenoiser(model, config), tokens, found
