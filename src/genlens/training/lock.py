"""One writer per run folder: an advisory ``flock`` on ``RUN/.genlens.lock`` holding the holder's pid and command.

The trainers' shared code takes it (:func:`genlens.training.loop.train` for the whole run,
:func:`genlens.training.checkpoint.save_checkpoint` checks it), so a second process pointed at the same
``--out`` stops at once with one line naming the first, instead of both writing and one dying later. The
kernel drops the lock when its process ends, even on ``kill -9``, so a crashed run never leaves a stale lock.
Within one process the lock is re-entrant (a trainer that saves checkpoints while holding it).
"""
from __future__ import annotations

import fcntl
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genlens.errors import GenlensError
from genlens.utils.shipped import refuse_shipped

LOCK_FILE = ".genlens.lock"
_HELD: dict[Path, list[int]] = {}  # resolved run folder -> [fd, depth] for the locks this process holds


def _holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "another process"
    pid, _, command = text.partition(" ")
    return f"process {pid} ({command})" if pid.isdigit() else "another process"


def _acquire(folder: Path, command: str) -> int:
    path = folder / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise GenlensError(f"'{folder}' is in use by {_holder(path)}; wait for it to finish or pass "
                               "another --out") from None
        try:  # the file we locked may have been unlinked by a holder releasing it: lock the new one instead
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {command}\n".encode())
            return fd
        os.close(fd)


@contextmanager
def run_lock(run_dir: str | os.PathLike, *, command: str | None = None) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` (created if missing) for the ``with`` block; a held lock is one line."""
    folder = Path(run_dir)
    refuse_shipped(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    if key in _HELD:
        _HELD[key][1] += 1
    else:
        _HELD[key] = [_acquire(folder, command or shlex.join(["genlens", *sys.argv[1:]])[:200]), 1]
    try:
        yield folder
    finally:
        entry = _HELD[key]
        entry[1] -= 1
        if entry[1] == 0:
            del _HELD[key]
            (folder / LOCK_FILE).unlink(missing_ok=True)  # while still locked, so no one locks a dead file
            os.close(entry[0])


def check_unlocked(run_dir: str | os.PathLike) -> None:
    """Raise the one-line error if another process holds ``run_dir``'s lock (this process may hold it)."""
    folder = Path(run_dir)
    if not (folder / LOCK_FILE).exists() or folder.resolve() in _HELD:
        return
    with run_lock(folder):
        pass
