"""What every ``genlens gan`` command file shares: load a generator by name or folder, and finish a command
(run.json, then one JSON object on stdout or one line on stderr)."""
from __future__ import annotations

import time
from pathlib import Path

from genlens.cli.common import command_line, emit_json, err_console, write_run_json


def load_gan(name: str, device: str):
    from genlens.gan.io import load_generator
    from genlens.utils.device import resolve_device

    return load_generator(name, device=resolve_device(device))


def finish(out: Path | None, result: dict, *, config: dict, seed: int, t0: float, json_out: bool, done: str) -> None:
    """run.json into ``out`` (if given), then the JSON object on stdout or one line on stderr."""
    if out is not None:
        write_run_json(out, command=command_line(), config=config, seed=seed, metrics=result,
                       seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
    else:
        err_console.print(done)
