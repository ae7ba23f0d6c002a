"""Shared by the tests of text models of a captioned folder (tests/diffusion, tests/web, tests/report): a tiny
captioned PNG folder and a stand-in for MiniLM. A helper module, not a test file (tests/ is on sys.path through
its conftest)."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from PIL import Image

from genlens.text import check_prompt

# Index order is by path: 0.png, 1.png, 2.png, 3.png.
CAPTIONS = ["a red square", "a green square", "a blue square", ""]


class TextSeeded:
    """Stands in for MiniLM (11 s to load): token embeddings seeded by the text, so a row names its caption."""

    name = "minilm"

    def check(self, text):
        return check_prompt(text)

    def encode_tokens(self, texts, *, max_tokens, pooled=False):
        rows = [torch.randn(max_tokens, 384, generator=torch.Generator().manual_seed(
            int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))) for t in texts]
        return torch.stack(rows), torch.ones(len(texts), max_tokens, dtype=torch.bool)

    def encode(self, texts):
        return torch.nn.functional.normalize(torch.randn(len(texts), 384), dim=-1)


def use_seeded_text(monkeypatch, tmp_path) -> None:
    """Every MiniLM load gives :class:`TextSeeded`, and its embeddings never reach the user's real caches."""
    import genlens.text

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: TextSeeded())


def captioned_folder(root, captions=CAPTIONS):
    """A flat folder of 32x32 colour PNGs: the first two captioned in captions.jsonl, the rest by .txt files."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, text in enumerate(captions):
        img = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        img[8:24, 8:24, i % 3] = 230
        Image.fromarray(img).save(root / f"{i}.png")
        if i >= 2 and text:
            (root / f"{i}.txt").write_text(text + "\n")
    (root / "captions.jsonl").write_text("".join(json.dumps({"file": f"{i}.png", "text": captions[i]}) + "\n"
                                                 for i in range(2)))
    return root


def train_text_folder(cli, root, out, steps: int = 1) -> None:
    """``diffusion train --cond text`` on ``root`` for ``steps`` steps (a tiny UNet on CPU) into ``out``."""
    code, _, err = cli(["diffusion", "train", "--data", f"folder:{root}", "--cond", "text", "--channels", "3", "--tiny",
                        "--steps", str(steps), "--batch", "4", "--out", out, "--device", "cpu"])
    assert code == 0, err
