"""``genlens visualize``: images that drive single units (conv channels, neurons, MLP hidden units) up."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from genlens.cli.common import (
    AllowDownloadOpt,
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    command_line,
    emit_json,
    err_console,
    progress_bar,
    write_run_json,
)


def _parse_units(specs: list[str]) -> list[int]:
    from genlens.errors import GenlensError

    units: list[int] = []
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            lo, dash, hi = part.partition("-")
            try:
                units.extend(range(int(lo), int(hi) + 1) if dash else [int(part)])
            except ValueError:
                raise GenlensError(f"bad unit '{part}'; use an index (17), a list (1,5,9) or a range (0-15)") from None
    return units


def visualize(
    model: str = typer.Argument(..., help="Zoo model name, model folder or timm:NAME[:WEIGHTS_FILE]."),
    layer: str = typer.Option(..., "--layer", help="Layer name, e.g. stages.2 (CNN) or blocks.3 (token models: "
                              "that block's MLP hidden layer)."),
    unit: list[str] = typer.Option(..., "--unit", help="Unit index, list (1,5,9) or range (0-15); repeatable."),
    kind: str = typer.Option("channel", "--kind", help="channel: mean over space/patch tokens; neuron: centre."),
    preset: str = typer.Option("pii-tuned", "--preset", help="PII preset for augmentations and schedule "
                              "(pii-tuned, pii-literal; the old names pii, pii-paper still work)."),
    steps_scale: float = typer.Option(1.0, "--steps-scale", help="Multiply every step count (previews: 0.1)."),
    out: Path = typer.Option(Path("out/visualize"), "--out", help="Writes OUT/unit_<k>.png, grid.png, run.json."),
    allow_download: bool = AllowDownloadOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Feature visualization of single units, all units in one batch.

    Example: genlens visualize fmnist-vit --layer blocks.3 --unit 17

    Example: genlens visualize fmnist-cnn --layer stages.2 --unit 0-15 --out out/cnn-units
    """
    from genlens.inversion.api import renamed_preset
    from genlens.inversion.visualize import resolve_unit_layer
    from genlens.inversion.visualize import visualize as visualize_fn
    from genlens.models.load import load_model
    from genlens.utils.images import save_grid, save_png

    if (new := renamed_preset(preset)) is not None:
        err_console.print(f"genlens: note: preset {preset} is renamed {new}; the old name goes in the next release")
        preset = new
    units = _parse_units(unit)
    handle = load_model(model, device=device, allow_download=allow_download)
    site = resolve_unit_layer(handle, layer)
    t0 = time.perf_counter()
    with progress_bar(f"visualize {handle.name} {site}", None, quiet=json_out) as cb:
        images = visualize_fn(handle, layer=layer, units=units, kind=kind, preset=preset, seed=seed,
                              steps_scale=steps_scale, callback=cb)
    seconds = time.perf_counter() - t0
    for u, img in zip(units, images):
        save_png(img, out / f"unit_{u}.png", upscale=4)
    save_grid(images, out / "grid.png", nrow=min(8, len(units)), upscale=3)
    result = {"model": handle.name, "layer": layer, "site": site, "units": units, "kind": kind, "preset": preset,
              "seconds": round(seconds, 2), "out": str(out)}
    write_run_json(out, command=command_line(), config=result, seed=seed, metrics={}, seconds=seconds)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{len(units)} units of {site} in {seconds:.1f} s -> {out}/grid.png")
