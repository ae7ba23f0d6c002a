"""Validation at the edge: every option's range and type, declared once and checked before any work starts.

The root group (:class:`genlens.cli.renamed.RenamingGroup`) wraps each command's callback with
:func:`validated`, so every command, old or new, gets the same checks without its file saying anything:

- an int is a positive count (``--n``, ``--steps``, ``--batch``, ``--epochs``, ``--limit``, ...) unless
  :data:`RULES` declares otherwise (``--seed`` may be 0);
- a float is finite and of sane size; known ones have ranges (``--alpha`` in [0, 1], ``--lr`` > 0, ...);
- a string is non-empty and has no control characters;
- ``--out`` is a path where a folder can be written: not an existing file or device, not read-only;
- input folders and files (``--data-dir``, ``--weights``, an IMAGE) exist.

``GENLENS_VALIDATE_ONLY=1`` stops a command right after these checks (exit 0): the contract test
(tests/cli/test_cli_contract.py) walks every command and option that way in well under a minute.
"""
from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlens.errors import GenlensError

VALIDATE_ONLY_ENV = "GENLENS_VALIDATE_ONLY"
INT_MAX = 10**9  # larger counts are typos (and would start hours of work)
FLOAT_MAX = 1e6  # |x| above this is a typo for every float option we have


@dataclass(frozen=True)
class Rule:
    """How one option is checked. ``kind``: count | number | text | device | out | in_dir | in_file | in_path
    | any (an undeclared path: the contract test asks for a declaration)."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself refused (``--lr`` > 0)
    hi_open: bool = False
    empty_ok: bool = False
    why: str = ""  # shown after the range, e.g. "0 writes no checkpoints"

    def accepts_number(self, x: float) -> bool:
        if not math.isfinite(x):
            return False
        if self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo)):
            return False
        return not (self.hi is not None and (x > self.hi or (self.hi_open and x == self.hi)))

    def range_text(self) -> str:
        lo = "" if self.lo is None else f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        hi = "" if self.hi is None else f"{'<' if self.hi_open else '<='} {_num(self.hi)}"
        return " and ".join(p for p in (lo, hi) if p) or "finite"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


COUNT = Rule("count", 1, INT_MAX)
COUNT0 = Rule("count", 0, INT_MAX)
SEED = Rule("count", 0, 2**63 - 1)
NUMBER = Rule("number", -FLOAT_MAX, FLOAT_MAX)
UNIT = Rule("number", 0.0, 1.0)
TEXT = Rule("text")
OUT = Rule("out")

# Keyed by option name (``--n``) or ``"<command path> <option>"`` (``"gan eval --run-dir"``) for one
# command; the longer key wins. An int/float/str/Path option not listed gets the default of its type.
RULES: dict[str, Rule] = {
    "--seed": SEED, "--to-seed": SEED,
    "--checkpoint-every": Rule("count", 0, INT_MAX, why="0 writes no intermediate checkpoints"),
    "--grid-every": Rule("count", 0, INT_MAX, why="0 writes no progress grids"),
    "--anchors": Rule("count", 0, INT_MAX, why="0 uses no caption anchors"),
    "--warmup": Rule("count", 0, INT_MAX, why="0 means no warm-up"),
    "--level": COUNT0,
    "--guidance": Rule("number", 0.0, 100.0, why="classifier-free guidance scales above 100 only saturate"),
    "--guide-weight": Rule("number", 0.0, 100.0),
    "--alpha": UNIT,
    "--ema-decay": Rule("number", 0.0, 1.0, hi_open=True),
    "--lr": Rule("number", 0.0, 10.0, lo_open=True),
    "--threshold": NUMBER,
    "--steps-scale": Rule("number", 0.0, 100.0, lo_open=True),
    "--epochs": Rule("number", 0.0, 1e4, lo_open=True),
    "--out": OUT,
    "gan train --run-dir": OUT,
    "--data-dir": Rule("in_dir"),
    "--init-from": Rule("in_path"),
    "--results": Rule("in_path"),
    "gan eval --run-dir": Rule("in_path"),  # its own error names what an empty run folder lacks
    "zoo eval --weights": Rule("in_file"),
    "cam image": Rule("in_file"),
    "--device": Rule("device"),
    # a model argument is a shipped name or a folder: the library resolves it and names both in its error
    "diffusion sample model": TEXT, "diffusion eval model": TEXT,
    # a locator is a folder or the shipped scenes-locator: load_locator resolves it and names both in its error
    "locator eval folder": TEXT, "--locator": TEXT,
    "gan eval --edits": Rule("count", 2, INT_MAX, why="the editing measurement fits a slope"),
    # an extractor name, inception:FILE, a zoo name, a model folder or timm:NAME[:FILE]: extractor_for resolves it
    # and its one-line error lists every form (--allow-download is a flag: nothing to check)
    "--features": TEXT,
    # a zoo name, genlens-eval or a model folder: load_model resolves it and its one-line error names the forms
    "diffusion eval --judge": TEXT,
    "explore --port": Rule("count", 0, 65535, why="0 picks a free port"),
    "explore --screenshots": OUT,
    "tour --screenshots": Rule("in_dir"), "tour --layout-gan": Rule("in_dir"),
    "tour --text-diffusion": Rule("in_dir"),
    "audit plant --rate": Rule("number", 0.0, 1.0, lo_open=True, hi_open=True),
    "audit plant --n-images": Rule("count", 0, INT_MAX, why="0 uses all training images"),
    "--weight-decay": Rule("number", 0.0, 10.0),
    "--pii-scale": Rule("number", 0.0, 10.0, why="0 skips the PII inversions"),
    # the data options of every trainer and evaluator (genlens.data.options.DataOptions checks the same ranges)
    "--resolution": Rule("count", 8, 1024, why="pixels of the square images"),
    "--channels": Rule("count", 1, 3, why="1 grey or 3 colour"),
}


def rule_for(command: str, param: Any) -> Rule | None:
    """The rule of one click parameter of ``command`` (e.g. ``"gan sample"``); None: nothing to check."""
    name = param.opts[0] if param.opts else param.name
    for key in (f"{command} {name}", name):
        if key in RULES:
            return RULES[key]
    annotation = _base_type(param)
    if getattr(param, "is_flag", False) or annotation is bool:
        return None
    if annotation is int:
        return COUNT
    if annotation is float:
        return NUMBER
    if annotation is str:
        return TEXT
    if annotation is Path:
        return Rule("in_path") if param.param_type_name == "argument" else Rule("any")
    return None


def _base_type(param: Any) -> Any:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    args = getattr(annotation, "__args__", None)
    if args and getattr(annotation, "__origin__", None) in (list, tuple):
        return args[0]
    return annotation


def check(command: str, params: list[Any], values: dict[str, Any]) -> None:
    """Raise a one-line :class:`GenlensError` for the first bad value in ``values`` (click's parsed kwargs)."""
    for param in params:
        value = values.get(param.name)
        if value is None or isinstance(value, bool):
            continue
        rule = rule_for(command, param)
        if rule is None:
            continue
        label = param.opts[0] if param.opts and param.param_type_name == "option" else param.name.upper()
        for v in value if isinstance(value, (list, tuple)) else [value]:
            problem = _problem(rule, v)
            if problem:
                raise GenlensError(f"{command}: {label} {problem}; see 'genlens {command} --help'")


def _problem(rule: Rule, v: Any) -> str | None:
    if rule.kind in ("count", "number"):
        if isinstance(v, str):
            return f"must be a number, got {v!r}"
        if not rule.accepts_number(float(v)):
            why = f" ({rule.why})" if rule.why else ""
            return f"must be {'a whole number ' if rule.kind == 'count' else ''}{rule.range_text()}{why}, got {v!r}"
        return None
    text = str(v)
    if not text.strip() and not rule.empty_ok:
        return "must not be empty"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "must not contain control characters"
    if rule.kind == "device" and not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        return f"must be auto, cpu, cuda, cuda:N or mps, got {text!r}"
    if rule.kind == "out":
        return _out_problem(Path(text))
    if rule.kind in ("in_dir", "in_file", "in_path"):
        return _in_problem(rule.kind, Path(text))
    return None


def _out_problem(path: Path) -> str | None:
    """An output folder: absent (created later) or a folder; its nearest existing ancestor writable; not a
    shipped model folder."""
    from genlens.utils.shipped import ALLOW_ENV, SHIPPED_ROOT, is_shipped

    if is_shipped(path) and os.environ.get(ALLOW_ENV, "") in ("", "0"):
        return f"'{path}' is inside the shipped models ({SHIPPED_ROOT}); pass a folder of your own (e.g. runs/NAME)"
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            what = "a file" if path.is_file() else "not a folder (a device or a broken link)"
            return f"'{path}' is {what}; pass a folder (it is created if missing)"
        probe = path
    else:
        probe = next((p for p in path.absolute().parents if p.exists()), Path("/"))
        if not probe.is_dir():
            return f"'{probe}' is a file, so '{path}' cannot be created; pass another folder"
    if not _writable(probe):
        return f"'{probe}' is read-only; pass a folder you can write"
    return None


def _writable(folder: Path) -> bool:
    """Writable for us, and not marked read-only for everyone (root ignores permission bits)."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _in_problem(kind: str, path: Path) -> str | None:
    if not path.exists():
        return f"'{path}' does not exist; pass an existing {'folder' if kind == 'in_dir' else 'file'}"
    if kind == "in_dir":
        if not path.is_dir():
            return f"'{path}' is not a folder; pass the folder that holds the files"
        if not any(path.iterdir()):
            return f"'{path}' is empty; pass the folder that holds the files"
    if kind == "in_file" and not path.is_file():
        return f"'{path}' is not a regular file; pass a file"
    return None


def validate_only() -> bool:
    return os.environ.get(VALIDATE_ONLY_ENV, "") not in ("", "0")


def validated(command: str, cmd: Any) -> Callable[..., Any]:
    """``cmd.callback`` checked by :func:`check` first; in validate-only mode nothing else runs."""
    inner = cmd.callback

    def callback(**kwargs: Any) -> Any:
        check(command, cmd.params, kwargs)
        if validate_only():
            return None
        return inner(**kwargs)

    callback.__genlens_validated__ = True  # type: ignore[attr-defined]
    callback.__wrapped__ = inner  # type: ignore[attr-defined]
    return callback


def install(group: Any, prefix: str = "") -> None:
    """Wrap the callback of every leaf command under ``group`` (once; safe to call again)."""
    for name, cmd in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}".strip()
        if hasattr(cmd, "commands"):
            install(cmd, path)
        elif cmd.callback is not None and not getattr(cmd.callback, "__genlens_validated__", False):
            cmd.callback = validated(path, cmd)
