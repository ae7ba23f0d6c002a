"""Save and load model folders: ``model.safetensors`` + ``config.json`` + ``manifest.json``.

The manifest records the sha256 of every weight file, the exact command that produced it, the git
commit, library versions and the metrics measured on it (DESIGN.md section 3, "Checkpoints").
Loading verifies the hash first, then the architecture, each failure in one line.
"""
from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genlens.errors import GenlensError
from genlens.utils.io import atomic_write, atomic_write_json, read_json, sha256_file
from genlens.utils.shipped import refuse_shipped

WEIGHTS_FILE = "model.safetensors"
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")  # every one must be listed in manifest.json


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent, capture_output=True,
                             text=True, timeout=5, check=False)
        sha = out.stdout.strip()
        return sha if len(sha) == 40 and all(c in "0123456789abcdef" for c in sha) else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def versions() -> dict[str, str]:
    import genlens

    out = {"python": platform.python_version(), "torch": torch.__version__, "genlens": genlens.__version__}
    try:
        import timm

        out["timm"] = timm.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def save_model_folder(folder: str | os.PathLike, model: nn.Module, *, config: dict[str, Any], command: str,
                      metrics: dict[str, Any], dtype: torch.dtype = torch.float16,
                      extra: dict[str, Any] | None = None) -> Path:
    """Write weights (floating tensors cast to ``dtype``), config and manifest, each atomically; never into
    a shipped model folder (:func:`genlens.utils.shipped.refuse_shipped`)."""
    folder = Path(folder)
    refuse_shipped(folder)
    state = {k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).cpu().contiguous()
             for k, v in model.state_dict().items()}
    atomic_write(folder / WEIGHTS_FILE, lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    atomic_write_json(folder / "config.json", config)
    manifest = {
        "sha256": {WEIGHTS_FILE: sha256_file(folder / WEIGHTS_FILE)},
        "command": command,
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "metrics": metrics,
        **(extra or {}),
    }
    atomic_write_json(folder / "manifest.json", manifest)
    return folder


def read_folder_config(folder: Path, *, kinds: Collection[str], what: str, fix: str) -> dict[str, Any]:
    """A model folder's ``config.json``, checked to hold one of ``kinds`` (a config without ``kind`` is a
    classifier, the first kind genlens wrote); otherwise one line naming what the folder holds and ``fix``."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise GenlensError(f"'{folder}' has no config.json; {fix}")
    cfg = read_json(path)
    kind = cfg.get("kind", "classifier") if isinstance(cfg, dict) else "unreadable"
    if kind not in kinds:
        raise GenlensError(f"'{folder}' holds a {kind} checkpoint, not {what}; {fix}")
    return cfg


def verify_manifest(folder: Path) -> dict[str, Any]:
    """Check every file hash listed in ``manifest.json``; return the manifest."""
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise GenlensError(f"'{folder}' has no manifest.json; it is not a genlens model folder")
    manifest = read_json(mpath)
    hashes = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(hashes, dict):
        raise GenlensError(f"'{mpath}' has no sha256 table; it is not a genlens manifest: retrain or restore it")
    unlisted = sorted(f.name for f in folder.iterdir() if f.suffix in WEIGHT_SUFFIXES and f.name not in hashes)
    if unlisted:
        raise GenlensError(f"'{mpath}' lists no sha256 for {unlisted[0]}, so it cannot be verified; restore the "
                           "manifest or retrain the model")
    for fname, want in hashes.items():
        f = folder / fname
        if not f.is_file():
            raise GenlensError(f"'{f}' is missing; restore it or retrain the model")
        got = sha256_file(f)
        if got != want:
            raise GenlensError(
                f"'{f}' has sha256 {got[:12]}... but its manifest says {want[:12]}...; the file is corrupt or was "
                "replaced: restore it (git checkout) or retrain"
            )
    return manifest


def read_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise GenlensError(f"'{path}' is not a readable safetensors file ({exc}); pass a .safetensors file") from None


def load_folder_weights(folder: str | os.PathLike, model: nn.Module, *, arch: str, verify: bool = True) -> nn.Module:
    """The one way a model folder's weights are read: check every sha256 against the manifest (unless
    ``verify`` is False), then load ``model.safetensors`` into ``model`` strictly. Returns ``model``."""
    folder = Path(folder)
    if verify:
        verify_manifest(folder)
    load_state_into(model, read_state(folder / WEIGHTS_FILE), what=f"'{folder / WEIGHTS_FILE}'", arch=arch)
    return model


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], *, what: str, arch: str) -> None:
    """Load ``state`` strictly, casting to the model's dtypes; a mismatch is a one-line error."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    bad_shape = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or bad_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if bad_shape:
            k = bad_shape[0]
            parts.append(f"{len(bad_shape)} of another shape (e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})")
        raise GenlensError(f"{what} does not fit architecture '{arch}': {'; '.join(parts)}; "
                           "pass weights trained for this architecture")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
