"""The root command group: renamed flags, validation at the edge, and every error as one line.

Whatever calls the app (the ``genlens`` entry point, typer's test runner, a notebook), errors come out the
same way because they are handled here, inside the click machinery, not around it:

- click/typer usage errors (a missing argument, ``--n 0`` below an option's ``min``, a wrong type) become
  ``genlens: error: <command>: <what>; see 'genlens <command> --help'`` on stderr and exit 2, instead of
  typer's five-line box;
- a :class:`GenlensError` from the checks of :mod:`genlens.cli.validate` or from the work is one line
  (its exit code, 2);
- a file-system error (``PermissionError``, a full disk, ...) is one line naming the file, exit 2; so is a
  refused unpickling (``torch.load(weights_only=True)``) or invalid JSON read outside ``read_json_file``;
  ``GENLENS_DEBUG=1`` shows the traceback instead.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
from typing import Any

import typer
from typer._click import exceptions as click_exceptions

from genlens.cli import validate
from genlens.cli.renamed import RenamingGroup
from genlens.errors import GenlensError


def error_line(message: str) -> str:
    return "genlens: error: " + " ".join(str(message).split()) + "\n"


def _usage_message(exc: Any) -> str:
    ctx = getattr(exc, "ctx", None)
    path = " ".join(ctx.command_path.split()[1:]) if ctx is not None else ""
    message = exc.format_message().rstrip(".")
    if not path:
        return f"{message}; see 'genlens --help'"
    return f"{path}: {message}; see 'genlens {path} --help'"


def _os_message(exc: OSError) -> str:
    what = exc.strerror or type(exc).__name__
    where = f" '{exc.filename}'" if exc.filename else ""
    return f"{what}{where}; check the path and its permissions ({type(exc).__name__})"


def _no_empty(args: list[str]) -> list[str]:
    """Refuse an empty word (``--out ""``, ``--out=``): typer would read it as the current folder or a blank."""
    for i, a in enumerate(args):
        if a.startswith("--") and a.endswith("="):
            raise GenlensError(f"{a[:-1]} is empty; give it a value or leave it out")
        if not a.strip():
            before = args[i - 1] if i else ""
            if before.startswith("-"):
                raise GenlensError(f"{before} is empty; give it a value or leave it out")
            raise GenlensError(f"an empty argument{f' after {before!r}' if before else ''}; remove it or give a value")
    return args


class RootGroup(RenamingGroup):
    """``genlens``: installs the validators on every command, then turns each error into one line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        validate.install(self)
        return self._one_line(lambda: super(RootGroup, self).parse_args(ctx, _no_empty(list(args))))

    def invoke(self, ctx: Any) -> Any:
        return self._one_line(lambda: super(RootGroup, self).invoke(ctx))

    @staticmethod
    def _one_line(run: Any) -> Any:
        debug = os.environ.get("GENLENS_DEBUG", "") not in ("", "0")
        try:
            return run()
        except click_exceptions.NoArgsIsHelpError:
            raise
        except click_exceptions.UsageError as exc:
            sys.stderr.write(error_line(_usage_message(exc)))
            raise typer.Exit(2) from None
        except GenlensError as exc:
            line = error_line(str(exc))
            sys.stderr.write(line if exc.exit_code else line.replace("genlens: error: ", "genlens: note: ", 1))
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            if debug or isinstance(exc, (BrokenPipeError,)):
                raise
            sys.stderr.write(error_line(_os_message(exc)))
            raise typer.Exit(2) from None
        except pickle.UnpicklingError as exc:  # torch.load(weights_only=True) refused a pickled object
            if debug:
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            sys.stderr.write(error_line(f"refused to unpickle a weights file ({first}); genlens loads only "
                                        "safetensors or plain tensors: convert the file or pass another"))
            raise typer.Exit(2) from None
        except json.JSONDecodeError as exc:
            if debug:
                raise
            sys.stderr.write(error_line(f"a JSON file is invalid (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                        "fix or regenerate it"))
            raise typer.Exit(2) from None
