"""Shared CLI plumbing: options, progress bars, JSON output, run.json."""
from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

err_console = Console(stderr=True)

SeedOpt = typer.Option(0, "--seed", help="Random seed; the same seed gives the same result on the same device.")
DeviceOpt = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps.")
JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON object on stdout (for scripts).")
AllowDownloadOpt = typer.Option(False, "--allow-download", help="Let timm:NAME without a weights file fetch timm's "
                                "pretrained weights (off: genlens never touches the network).")
DATA_SPEC_HELP = "Data spec: NAME[:train|test] (fashion-mnist, digits), folder:PATH or npz:PATH."
DataDirOpt = typer.Option(None, "--data-dir", help="Folder with the Fashion-MNIST IDX .gz files (else $GENLENS_DATA, "
                          "/usr/share/datasets/fashion-mnist, ~/.cache/genlens/fashion-mnist).")


def say_data_notes(*datasets: Any, notes: Iterator[str] | list[str] | tuple[str, ...] = ()) -> None:
    """What loading data did that the user should hear (images converted, resized or skipped, captions missing:
    each data set's ``notes``, plus ``notes`` a library call returned), each distinct note once, in order, on
    stderr (also under --json, whose stdout stays one JSON object), by the main process only. Every command that
    reads ``--data`` says its notes here; the library returns them and never prints."""
    from genlens.training.distributed import is_main_process

    said = dict.fromkeys([*(n for d in datasets for n in getattr(d, "notes", ()) or ()), *notes])
    if not is_main_process():
        return
    for note in said:
        err_console.print(f"genlens: note: {note}", markup=False, highlight=False, soft_wrap=True)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one line of strict JSON: a NaN or infinity becomes ``null`` and the object gains
    ``"nulls": {"<path>": "<why>"}`` (strict parsers reject bare ``NaN``)."""
    plain = json.loads(json.dumps(obj, default=_jsonable))  # tensors, dataclasses -> plain values
    reasons: dict[str, str] = {}
    plain = _finite(plain, "", reasons)
    if reasons:
        plain = {**plain, "nulls": reasons} if isinstance(plain, dict) else {"value": plain, "nulls": reasons}
    sys.stdout.write(json.dumps(plain, sort_keys=True, allow_nan=False) + "\n")
    sys.stdout.flush()


def _finite(value: Any, path: str, reasons: dict[str, str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        reasons[path or "value"] = f"was {value} (not a finite number), written as null"
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), reasons) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v, f"{path}[{i}]", reasons) for i, v in enumerate(value)]
    return value


def _jsonable(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def write_run_json(out: Path, *, command: str, config: dict[str, Any], seed: int | None, metrics: dict[str, Any],
                   seconds: float) -> Path:
    from genlens.models.weights_io import git_commit, versions
    from genlens.utils.io import atomic_write_json

    return atomic_write_json(out / "run.json", {
        "command": command, "config": config, "seed": seed, "metrics": metrics, "seconds": round(seconds, 3),
        "versions": versions(), "git_commit": git_commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })


def safe_child(out: Path, text: str) -> Path:
    """``out/<text as a folder name>``: sanitised by :func:`genlens.utils.images.safe_name` and checked to
    stay inside ``out`` (a prompt ``..`` or ``a/../../b`` never escapes, control characters never land)."""
    from genlens.errors import GenlensError
    from genlens.utils.images import safe_name

    child = Path(out) / safe_name(str(text))
    if Path(out).resolve() not in child.resolve().parents:
        raise GenlensError(f"the name {text!r} would be written outside '{out}'; choose another name")
    return child


def write_named_images(out: Path, images: Any, names: list[str], *, n: int, upscale: int = 4,
                       grid_upscale: int = 3) -> None:
    """The DESIGN.md image contract: ``OUT/<name, spaces and slashes as _>/<i>.png`` for ``n`` images per
    name (in order) plus ``OUT/grid.png``, one row per name (a single name fills rows of up to 8)."""
    from genlens.utils.images import save_grid, save_png

    for i, (img, name) in enumerate(zip(images, names)):
        save_png(img, safe_child(out, name) / f"{i % n}.png", upscale=upscale)
    save_grid(images, out / "grid.png", nrow=n if len(images) > n else min(8, n), upscale=grid_upscale)


_INVOCATION: list[str] | None = None  # the argv given to genlens.cli.main.main, once it runs


@contextmanager
def invocation(argv: list[str]) -> Iterator[None]:
    """While the ``genlens`` entry point runs: the arguments it was called with (for :func:`command_line`)."""
    global _INVOCATION
    before, _INVOCATION = _INVOCATION, [str(a) for a in argv]
    try:
        yield
    finally:
        _INVOCATION = before


def command_line() -> str:
    """The running command as a shell line starting with ``genlens``, for manifests and run.json.

    From the entry point it is the exact argv. Called in-process without it (typer's test runner, a notebook
    invoking the app), ``sys.argv`` is the host's (pytest, ipykernel), so the line is rebuilt from the click
    context instead: the command path and every parameter whose value differs from its default."""
    import shlex

    if _INVOCATION is not None:
        return shlex.join(["genlens", *_INVOCATION])
    from typer.main import get_current_context  # typer carries its own click; its context, not click's

    ctx = get_current_context(silent=True)
    if ctx is None:
        return shlex.join(["genlens", *sys.argv[1:]])
    return shlex.join(["genlens", *ctx.command_path.split()[1:], *_rebuilt_params(ctx)])


def _rebuilt_params(ctx: Any) -> list[str]:
    out: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value == param.default or (isinstance(value, (list, tuple)) and not value):
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if param.param_type_name == "argument":
            out += [str(v) for v in values]
        elif getattr(param, "is_flag", False):
            names = param.opts if value else (param.secondary_opts or param.opts)
            out.append(names[0])
        else:
            for v in values:
                out += [param.opts[0], str(v)]
    return out


@contextmanager
def progress_bar(description: str, total: int | None, *, quiet: bool = False) -> Iterator[Any]:
    """Yield a ``callback(dict)`` that advances a rich progress bar on stderr (library -> CLI bridge).

    The bar appears at the first progress report, so an error found before any work (a bad file, a held
    run lock) is the only line on stderr."""
    if quiet:
        yield lambda info: sys.stderr.write(f"genlens: note: {info['note']}\n") if "note" in info else None
        return
    prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err_console, transient=False)
    task = prog.add_task(description, total=total, info="")
    last: dict[str, str] = {}

    def callback(info: dict[str, Any]) -> None:
        if "note" in info:  # the library says something worth a line (e.g. a corrupt checkpoint was skipped)
            prog.console.print(f"genlens: note: {info['note']}", markup=False, highlight=False)
            return
        if info.get("total"):
            prog.update(task, total=info["total"])
        for k in ("loss", "lr", "acc"):
            v = info.get(k)
            if v is not None:
                last[k] = f"{k} {v:.3g}"
        if not prog.live.is_started:
            prog.start()
        prog.update(task, completed=info.get("step", 0), info="  ".join(last.values()))

    try:
        yield callback
    finally:
        if prog.live.is_started:
            prog.stop()
