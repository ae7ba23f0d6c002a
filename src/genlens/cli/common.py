"""Shared CLI plumbing: options, progress bars, JSON output, run.json."""
from __future__ import annotations

import json
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
DataDirOpt = typer.Option(None, "--data-dir", help="Folder with the Fashion-MNIST IDX .gz files (else $GENLENS_DATA, "
                          "/usr/share/datasets/fashion-mnist, ~/.cache/genlens/fashion-mnist).")


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=_jsonable, sort_keys=True) + "\n")
    sys.stdout.flush()


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


def command_line() -> str:
    import shlex

    argv = list(sys.argv)
    argv[0] = "genlens"
    return " ".join(shlex.quote(a) for a in argv)


@contextmanager
def progress_bar(description: str, total: int | None, *, quiet: bool = False) -> Iterator[Any]:
    """Yield a ``callback(dict)`` that advances a rich progress bar on stderr (library -> CLI bridge)."""
    if quiet:
        yield lambda info: None
        return
    prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err_console, transient=False)
    task = prog.add_task(description, total=total, info="")
    last: dict[str, str] = {}

    def callback(info: dict[str, Any]) -> None:
        if info.get("total"):
            prog.update(task, total=info["total"])
        for k in ("loss", "lr", "acc"):
            v = info.get(k)
            if v is not None:
                last[k] = f"{k} {v:.3g}"
        prog.update(task, completed=info.get("step", 0), info="  ".join(last.values()))

    with prog:
        yield callback
