"""Context managers for temporary model state (STYLE.md principle 8)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch.nn as nn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode and restore each one's previous mode afterwards."""
    was = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, w in zip(modules, was):
            m.train(w)


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Disable ``requires_grad`` on every parameter and restore it afterwards."""
    saved = [[p.requires_grad for p in m.parameters()] for m in modules]
    try:
        for m in modules:
            for p in m.parameters():
                p.requires_grad_(False)
        yield
    finally:
        for m, flags in zip(modules, saved):
            for p, f in zip(m.parameters(), flags):
                p.requires_grad_(f)
