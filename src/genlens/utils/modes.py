"""Context managers for temporary model state (STYLE.md principle 8)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch.nn as nn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode and restore each submodule's previous mode afterwards.

    Submodules are restored one by one: ``m.train(True)`` alone would also switch a submodule that was
    deliberately in eval mode (a frozen BatchNorm inside a training model) back to training.
    """
    was = [(sub, sub.training) for m in modules for sub in m.modules()]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for sub, w in was:
            sub.training = w


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
