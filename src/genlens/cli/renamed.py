"""Renamed command-line flags keep working for one release, with a one-line notice on stderr.

One name per idea across commands (``--out`` for outputs, ``--batch``, ``--features`` for extractors,
``--seed``, ``--resolution`` for a pixel size, ``--size`` for a model size). When a flag is renamed, its old
spelling goes in :data:`RENAMED` as ``(command path, old) -> new``; :class:`RenamingGroup`, the root
group, rewrites it before click parses anything, so every command, in-process or from the shell, gets the
same treatment and the rest of the code only ever sees the new name.
"""
from __future__ import annotations

import sys
from typing import Any

from typer.core import TyperGroup

# (command path without "genlens", e.g. "gan train" or "gan" for the whole group, old flag) -> new flag. Remove an entry one release after it was added.
RENAMED: dict[tuple[str, str], str] = {
    ("clip train", "--batch-size"): "--batch",
    ("data download", "--dest"): "--out",
    ("gan train", "--batch-size"): "--batch",
    ("gan eval", "--extractor"): "--features",
    ("gan eval", "--editing-latents"): "--edits",
}


def _command_path(args: list[str]) -> str:
    words = []
    for a in args:
        if a.startswith("-"):
            break
        words.append(a)
    return " ".join(words[:2])


def rename_flags(args: list[str], *, warn: Any = None) -> list[str]:
    """``args`` with every deprecated flag of its command replaced by the new name (``--old=v`` too)."""
    path = _command_path(args)
    out = []
    for a in args:
        flag, eq, value = a.partition("=")
        new = None
        if flag.startswith("--"):
            for (cmd, old), target in RENAMED.items():
                if old == flag and (path == cmd or path.startswith(cmd + " ")):
                    new = target
                    break
        if new is None:
            out.append(a)
            continue
        (warn or _warn)(f"genlens: note: {flag} is renamed {new}; the old name goes in the next release")
        out.append(f"{new}{eq}{value}" if eq else new)
    return out


def _warn(line: str) -> None:
    sys.stderr.write(line + "\n")


class RenamingGroup(TyperGroup):
    """The root group: rewrites renamed flags, then parses as usual."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, rename_flags(list(args)))
