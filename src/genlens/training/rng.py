"""Capture and restore every random stream a training step can touch, as JSON-able data.

Covers Python's ``random``, NumPy's legacy global generator, torch's CPU generator, every CUDA
device's generator (when CUDA is available) and any named ``torch.Generator``s the caller owns.
Byte states are stored as base64 strings, so the whole result goes into ``state.json`` and comes back
bit-exactly.
"""
from __future__ import annotations

import base64
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from genlens.errors import GenlensError


def _encode(state: torch.Tensor) -> str:
    return base64.b64encode(state.cpu().contiguous().numpy().tobytes()).decode("ascii")


def _decode(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


def capture_rng_state(*, generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Snapshot all random states; the result is plain JSON data (lists, ints, floats, strings)."""
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "bit_generator": str(name),
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": _encode(torch.get_rng_state()),
        "cuda": [_encode(s) for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        "generators": {key: _encode(g.get_state()) for key, g in (generators or {}).items()},
    }
    return state


def restore_rng_state(
    state: Mapping[str, Any], *, generators: Mapping[str, torch.Generator] | None = None
) -> None:
    """Put back a snapshot from :func:`capture_rng_state`.

    CUDA states are restored only when the same number of CUDA devices is visible (a run saved on a
    GPU and resumed on CPU keeps its CPU streams). Every generator passed here must be in the snapshot.
    """
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    npy = state["numpy"]
    np.random.set_state(
        (
            npy["bit_generator"],
            np.asarray(npy["keys"], dtype=np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(_decode(state["torch"]))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([_decode(s) for s in cuda])
    saved = state.get("generators", {})
    for key, g in (generators or {}).items():
        if key not in saved:
            raise GenlensError(
                f"no saved state for generator '{key}' (saved: {sorted(saved) or 'none'}); "
                "pass the same generators as the run that saved the checkpoint"
            )
        g.set_state(_decode(saved[key]))
