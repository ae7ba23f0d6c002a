"""Shipped model folders (``src/genlens/models/weights/*``) are read-only: one guard for every writer.

Model folders (:func:`genlens.models.weights_io.save_model_folder`), training checkpoints and run locks
call :func:`refuse_shipped` before writing, so a trainer run without ``--out`` cannot replace a model
inside the installed package. Maintainers updating a shipped model on purpose set
``GENLENS_WRITE_SHIPPED=1``.
"""
from __future__ import annotations

import os
from pathlib import Path

from genlens.errors import GenlensError

SHIPPED_ROOT = Path(__file__).resolve().parents[1] / "models" / "weights"
ALLOW_ENV = "GENLENS_WRITE_SHIPPED"


def is_shipped(path: str | os.PathLike, root: Path | None = None) -> bool:
    """Whether ``path`` is the shipped weights folder or inside it."""
    root = (root or SHIPPED_ROOT).resolve()
    resolved = Path(path).resolve()
    return resolved == root or root in resolved.parents


def refuse_shipped(path: str | os.PathLike, *, root: Path | None = None) -> None:
    """One-line :class:`GenlensError` when ``path`` would write into a shipped model folder."""
    if os.environ.get(ALLOW_ENV, "") in ("", "0") and is_shipped(path, root):
        raise GenlensError(f"'{path}' is inside the shipped models ({root or SHIPPED_ROOT}), which genlens never "
                           f"modifies; pass --out with a folder of your own (e.g. runs/NAME)")
