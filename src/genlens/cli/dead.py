"""``genlens dead``: the dead-unit census of a classifier on a data set, with a bar chart."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from genlens.cli.common import (
    DATA_SPEC_HELP,
    AllowDownloadOpt,
    DataDirOpt,
    DeviceOpt,
    JsonOpt,
    command_line,
    emit_json,
    err_console,
    progress_bar,
    say_data_notes,
    write_run_json,
)


def dead(
    model: str = typer.Argument(..., help="Zoo model name, model folder or timm:NAME[:WEIGHTS_FILE]."),
    data: str | None = typer.Option(None, "--data", help=DATA_SPEC_HELP + " Default: the data the model was "
                                    "trained on (fashion-mnist for the zoo), at its input size."),
    split: str = typer.Option("test", "--split", help="Split when --data names none (train or test)."),
    limit: int | None = typer.Option(None, "--limit", help="Use only the first N images."),
    threshold: float = typer.Option(0.0, "--threshold", help="A unit is alive if its output ever exceeds this."),
    out: Path = typer.Option(Path("out/dead"), "--out", help="Folder for dead_units.png and run.json."),
    allow_download: bool = AllowDownloadOpt,
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Fraction of units in every ReLU/GELU layer that never activate on the data.

    Example: genlens dead fmnist-vit --data fashion-mnist --split test --json
    """
    from genlens.analysis import dead_unit_census
    from genlens.models.load import load_model
    from genlens.models.zoo.evaluate import classifier_data
    from genlens.report.plots import bar_png

    t0 = time.perf_counter()
    handle = load_model(model, device=device, allow_download=allow_download)
    ds = classifier_data(handle, data, split=split, data_dir=data_dir, limit=limit)
    say_data_notes(ds)
    with progress_bar(f"census {handle.name}", len(ds), quiet=json_out) as cb:
        report = dead_unit_census(handle, ds.float_images(), threshold=threshold, callback=cb)
    bar_png({c.name: 100 * c.fraction_dead for c in report.layers}, out / "dead_units.png",
            title=f"{handle.name}: dead units per layer on {report.images} images", ylabel="% dead", ylim=(0, 100))
    result = report.to_dict() | {"chart": str(out / "dead_units.png")}
    write_run_json(out, command=command_line(), config={"model": model, "data": data, "split": split,
                   "threshold": threshold}, seed=None, metrics=result, seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
        return
    for c in report.layers:
        err_console.print(f"  {c.name:32s} {c.kind:6s} {c.dead:5d}/{c.units:<5d} dead ({100 * c.fraction_dead:.1f}%)")
    err_console.print(f"{report.total_dead}/{report.total_units} units dead on {report.images} images -> {out}/dead_units.png")
