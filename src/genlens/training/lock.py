"""One writer per run folder: an advisory ``flock`` on the folder itself, naming its holder.

The trainers' shared code takes it (:func:`genlens.training.loop.train` for the whole run,
:func:`genlens.training.checkpoint.save_checkpoint` from the first checkpoint on), so a second process
pointed at the same ``--out`` stops with one line naming the first (pid and command), instead of both
writing and one dying later. The lock is on the folder's own file descriptor, so nothing is added to the
run folder; who holds it is written to ``$TMPDIR/genlens-locks/<hash of the folder>``. Under
``accelerate launch`` / ``torchrun`` only the main process (rank 0, the writer) takes it: the other ranks of
the same run share its folder and would otherwise stop at the lock their own rank 0 holds. The kernel drops
the lock when its process ends, even on ``kill -9``, so a crashed run never leaves a stale lock. Within one
process the lock is re-entrant (a trainer that saves checkpoints while holding it).
"""
from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genlens.errors import GenlensError
from genlens.training.distributed import is_main_process
from genlens.utils.shipped import refuse_shipped

_HELD: dict[Path, list[int]] = {}  # resolved run folder -> [folder fd, depth] for the locks this process holds
_STICKY: set[Path] = set()  # taken by hold_lock: released when the process ends


def holder_file(folder: Path) -> Path:
    """Where the holder of ``folder``'s lock writes its pid and command (outside the run folder)."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / "genlens-locks" / digest


def _holder(folder: Path) -> str:
    try:
        text = holder_file(folder).read_text().strip()
    except OSError:
        return "another process"
    pid, _, command = text.partition(" ")
    return f"process {pid} ({command})" if pid.isdigit() else "another process"


def _default_command() -> str:
    return shlex.join(["genlens", *sys.argv[1:]])[:200]


def _acquire(folder: Path, command: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise GenlensError(f"'{folder}' is in use by {_holder(folder)}; wait for it to finish or pass "
                           "another --out") from None
    info = holder_file(folder)
    try:
        info.parent.mkdir(parents=True, exist_ok=True)
        info.write_text(f"{os.getpid()} {command}\n")
    except OSError:  # the name of the holder is a courtesy; the lock itself is what matters
        pass
    return fd


def _release(key: Path) -> None:
    fd = _HELD.pop(key)[0]
    try:
        holder_file(key).unlink(missing_ok=True)
    except OSError:
        pass
    os.close(fd)  # closing the descriptor drops the flock


@contextmanager
def run_lock(run_dir: str | os.PathLike, *, command: str | None = None) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` (created if missing) for the ``with`` block; a held lock is one line."""
    folder = Path(run_dir)
    refuse_shipped(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not is_main_process():
        yield folder
        return
    key = folder.resolve()
    if key in _HELD:
        _HELD[key][1] += 1
    else:
        _HELD[key] = [_acquire(folder, command or _default_command()), 1]
    try:
        yield folder
    finally:
        _HELD[key][1] -= 1
        if _HELD[key][1] == 0 and key not in _STICKY:
            _release(key)


def hold_lock(run_dir: str | os.PathLike) -> None:
    """Take ``run_dir``'s lock until this process ends, unless it already holds it (inside :func:`run_lock`).

    :func:`genlens.training.checkpoint.save_checkpoint` calls it, so a trainer with a loop of its own is
    protected from its first checkpoint on."""
    folder = Path(run_dir)
    key = folder.resolve() if folder.exists() else (folder.mkdir(parents=True, exist_ok=True) or folder.resolve())
    if key in _HELD or not is_main_process():
        return
    _HELD[key] = [_acquire(folder, _default_command()), 1]
    _STICKY.add(key)


def check_unlocked(run_dir: str | os.PathLike) -> None:
    """Raise the one-line error if another process holds ``run_dir``'s lock (this process may hold it)."""
    folder = Path(run_dir)
    if not folder.is_dir() or folder.resolve() in _HELD:
        return
    with run_lock(folder):
        pass


@atexit.register
def _release_sticky() -> None:
    for key in list(_STICKY):
        if key in _HELD:
            _release(key)
    _STICKY.clear()
