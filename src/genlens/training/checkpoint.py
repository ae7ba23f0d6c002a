"""Atomic training checkpoints: one folder per checkpoint, swapped in by rename.

A checkpoint folder holds
  ``model.safetensors``  weights (safetensors, shared tensors de-duplicated)
  ``ema.safetensors``    EMA weights, when an EMA is trained
  ``optimizer.pt``       optimizer / scheduler / grad-scaler states (``torch.save``; read back ONLY with
                         ``torch.load(weights_only=True)``, so it may hold tensors, numbers, strings,
                         lists, tuples and dicts and nothing else; checked before writing)
  ``state.json``         step, EMA counter, data order, RNG states, the run config, anything else
  ``config.json``        the run config

Everything is written into ``run_dir/.tmp-ckpt-*`` (each file fsynced), then that folder is renamed to
``run_dir/last`` (and, on request, hard-linked to ``run_dir/step-000123``). Replacing ``last`` renames the
old one to ``.last.old`` first; :func:`find_checkpoint` falls back to it, so a crash at any point leaves a
complete checkpoint to resume from, never a half-written ``last``.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

from genlens.errors import GenlensError
from genlens.training.config_diff import check_same_config, config_to_dict
from genlens.training.ema import EMA, unwrap_module
from genlens.training.lock import hold_lock
from genlens.utils.config_io import read_json_file
from genlens.utils.io import fsync_path, sha256_file
from genlens.utils.shipped import refuse_shipped

MODEL_FILE = "model.safetensors"
EMA_FILE = "ema.safetensors"
OPTIM_FILE = "optimizer.pt"
STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
LAST = "last"
FORMAT = 1
_TMP_PREFIX = ".tmp-ckpt-"

_PLAIN = (torch.Tensor, int, float, bool, str, bytes, type(None), torch.dtype, torch.Size)


def step_dir_name(step: int) -> str:
    return f"step-{step:06d}"


# ----------------------------------------------------------------------------------------- file system
def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the complete folder ``src`` to ``dst``; the previous ``dst`` survives as ``.dst.old`` until then."""
    old = dst.parent / f".{dst.name}.old"
    if dst.exists():
        if old.exists():
            shutil.rmtree(old)
        os.rename(dst, old)
    os.rename(src, dst)
    fsync_path(dst.parent)
    shutil.rmtree(old, ignore_errors=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # files are never rewritten in place, so sharing them is safe
    except OSError:
        shutil.copy2(src, dst)
        fsync_path(dst)


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why the checkpoint ``folder`` cannot be resumed from (unreadable state.json, a missing file, a sha256
    that differs from the one recorded at save time), or ``None`` when it is intact. Checkpoints written
    before checksums existed are checked for their state.json only."""
    folder = Path(folder)
    try:
        state = read_json_file(folder / STATE_FILE, what="checkpoint state")
    except GenlensError as err:
        return str(err)
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        return f"'{folder / STATE_FILE}' has no step; the checkpoint is incomplete"
    for name, want in (state.get("sha256") or {}).items():
        file = folder / name
        if not file.is_file():
            return f"'{file}' is missing"
        if sha256_file(file) != want:
            return f"'{file}' does not match its sha256 (truncated or corrupt)"
    return None


def _candidates(run_dir: Path, name: str) -> list[Path]:
    """``name``, its pre-swap copy, then the kept ``step-…`` folders, newest first."""
    first = [run_dir / name, run_dir / f".{name}.old"]
    steps = sorted(run_dir.glob("step-*"), reverse=True) if name == LAST else []
    return [c for c in first + steps if (c / STATE_FILE).is_file()]


def find_intact_checkpoint(run_dir: str | os.PathLike, *, name: str = LAST) -> tuple[Path | None, list[str]]:
    """The newest intact checkpoint of ``run_dir`` and one note per newer one that was skipped as corrupt.

    ``(None, [])``: no checkpoint at all. ``(None, notes)``: checkpoints exist but none is intact."""
    notes: list[str] = []
    for candidate in _candidates(Path(run_dir), name):
        problem = checkpoint_problem(candidate)
        if problem is None:
            if notes:
                notes[-1] += f"; resuming from {candidate.name} instead"
            return candidate, notes
        notes.append(f"skipped checkpoint {candidate.name}: {problem}")
    return None, notes


def find_checkpoint(run_dir: str | os.PathLike, *, name: str = LAST) -> Path | None:
    """``run_dir/last`` (or a ``step-…`` name), else the newest intact fallback (the pre-swap copy a crash
    left behind, then kept ``step-…`` folders), or ``None``; corrupt ones are skipped
    (:func:`find_intact_checkpoint` says which)."""
    return find_intact_checkpoint(run_dir, name=name)[0]


# ----------------------------------------------------------------------------------------- checking
def _check_plain(obj: Any, where: str) -> None:
    """Refuse anything ``torch.load(weights_only=True)`` would reject, naming where it is."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise GenlensError(f"{where} has a key of type {type(key).__name__}; use str or int keys")
            _check_plain(value, f"{where}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}.{i}")
    elif not isinstance(obj, _PLAIN):
        raise GenlensError(
            f"{where} is a {type(obj).__name__}, which a weights_only checkpoint cannot hold; "
            "keep optimizer/scheduler state to tensors, numbers, strings, lists and dicts"
        )


def _stateful(**objects: Any) -> dict[str, Any]:
    return {name: obj for name, obj in objects.items() if obj is not None}


# ----------------------------------------------------------------------------------------- save / load
def save_checkpoint(
    run_dir: str | os.PathLike,
    *,
    step: int,
    model: nn.Module,
    config: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    scaler: Any = None,
    ema: EMA | None = None,
    state: Mapping[str, Any] | None = None,
    keep_step: bool = False,
) -> Path:
    """Write ``run_dir/last`` atomically (and ``run_dir/step-XXXXXX`` when ``keep_step``); returns ``last``.

    ``state`` is extra JSON data for ``state.json`` (epoch, data order, RNG states, ...).
    """
    run_dir = Path(run_dir)
    refuse_shipped(run_dir)
    hold_lock(run_dir)  # one writer per run folder, from the first checkpoint to the end of the process
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob(f"{_TMP_PREFIX}*"):  # left by a crash mid-write
        shutil.rmtree(stale, ignore_errors=True)
    temps: list[Path] = []
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=run_dir))
        temps.append(tmp)
        _write_contents(tmp, step=step, model=model, config=config, ema=ema, state=state,
                        optim=_stateful(optimizer=optimizer, scheduler=scheduler, scaler=scaler))
        if keep_step:
            step_tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=run_dir))
            temps.append(step_tmp)
            for file in tmp.iterdir():
                _link_or_copy(file, step_tmp / file.name)
            fsync_path(step_tmp)
            _replace_dir(step_tmp, run_dir / step_dir_name(step))
        _replace_dir(tmp, run_dir / LAST)
    except BaseException:
        for path in temps:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return run_dir / LAST


def _write_contents(
    folder: Path,
    *,
    step: int,
    model: nn.Module,
    config: Any,
    ema: EMA | None,
    state: Mapping[str, Any] | None,
    optim: dict[str, Any],
) -> None:
    config_dict = config_to_dict(config)
    save_model(unwrap_module(model), str(folder / MODEL_FILE), force_contiguous=True)
    if ema is not None:
        save_model(ema.ema_model, str(folder / EMA_FILE), force_contiguous=True)
    if optim:
        states = {name: obj.state_dict() for name, obj in optim.items()}
        _check_plain(states, "optimizer.pt")
        torch.save(states, folder / OPTIM_FILE)
    meta = {
        **dict(state or {}),
        "format": FORMAT,
        "step": int(step),
        "config": config_dict,
        "ema": None if ema is None else {**ema.settings(), "num_updates": ema.num_updates},
    }
    _write_json(folder / CONFIG_FILE, config_dict)
    meta["sha256"] = {f.name: sha256_file(f) for f in sorted(folder.iterdir()) if f.name != STATE_FILE}
    _write_json(folder / STATE_FILE, meta)
    for file in folder.iterdir():
        fsync_path(file)
    fsync_path(folder)


def _resolve(path: str | os.PathLike) -> Path:
    path = Path(path)
    if (path / STATE_FILE).is_file():
        problem = checkpoint_problem(path)
        if problem is not None:
            raise GenlensError(f"checkpoint {path} cannot be resumed: {problem}; resume from the run folder "
                               "(it falls back to the newest intact checkpoint)")
        return path
    found, notes = find_intact_checkpoint(path)
    if found is None and notes:
        raise GenlensError(f"no intact checkpoint in {path} ({notes[0]}); start a new run folder")
    if found is None:
        raise GenlensError(f"no checkpoint in {path} (expected {path / LAST / STATE_FILE}); check the run dir")
    return found


def read_checkpoint_state(path: str | os.PathLike) -> dict[str, Any]:
    """``state.json`` of a checkpoint folder or of a run dir's latest checkpoint."""
    return read_json_file(_resolve(path) / STATE_FILE, what="checkpoint state")


def _load_weights(module: nn.Module, file: Path) -> None:
    if not file.is_file():
        raise GenlensError(f"{file} is missing; the checkpoint is incomplete, resume from another one")
    device = next(module.parameters(), torch.empty(0)).device
    try:
        load_model(module, str(file), strict=True, device=str(device))
    except SafetensorError as err:
        raise GenlensError(f"{file} is not a readable safetensors file ({err}); resume from another checkpoint"
                           ) from None
    except RuntimeError as err:
        raise GenlensError(f"weights in {file} do not fit the model ({str(err)[:300]}); "
                           "build the model with the config the checkpoint was saved with") from err


def _load_optimizer_states(file: Path) -> dict[str, Any]:
    """``optimizer.pt`` with ``weights_only=True``: anything but plain tensors and containers is refused."""
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise GenlensError(f"{file} cannot be read safely ({type(err).__name__}: {str(err).splitlines()[0][:120]}); "
                           "it is corrupt or holds more than tensors; resume from another checkpoint") from None


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    config: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    scaler: Any = None,
    ema: EMA | None = None,
    ignore: Iterable[str] = (),
    added: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Load a checkpoint (a checkpoint folder or a run dir) into the given objects; returns ``state.json``.

    When ``config`` is given it must equal the stored one (fields in ``ignore`` excepted), otherwise a
    :class:`GenlensError` names every differing field. ``optimizer.pt`` is read with ``weights_only=True``.
    """
    folder = _resolve(path)
    state = read_checkpoint_state(folder)
    if config is not None:
        check_same_config(state.get("config", {}), config, ignore=ignore, added=added)
    _load_weights(unwrap_module(model), folder / MODEL_FILE)
    if ema is not None:
        if state.get("ema") is None:
            raise GenlensError(f"checkpoint {folder} has no EMA weights; resume without an EMA or start anew")
        _load_weights(ema.ema_model, folder / EMA_FILE)
        ema.load_state_dict(state["ema"])
    wanted = _stateful(optimizer=optimizer, scheduler=scheduler, scaler=scaler)
    if wanted:
        file = folder / OPTIM_FILE
        saved = _load_optimizer_states(file) if file.is_file() else {}
        for name, obj in wanted.items():
            if name not in saved:
                raise GenlensError(f"checkpoint {folder} holds no {name} state; resume with the same setup")
            obj.load_state_dict(saved[name])
    return state
