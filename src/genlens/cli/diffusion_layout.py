"""``genlens diffusion sample --layout`` and ``genlens diffusion edit``: layout-conditioned diffusion (objects where
the user says; Make-A-Scene style). Images go to OUT/<i>.png (not tied to one class) and OUT/grid.png; a centre
outside the canvas is clamped, said in run.json and in one stderr note line."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from genlens.cli.common import (
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    command_line,
    emit_json,
    err_console,
    progress_bar,
    write_run_json,
)
from genlens.cli.diffusion_eval import GuidanceIntervalOpt, SamplerOpt, SpacingOpt, StepsOpt
from genlens.errors import GenlensError

SHIPPED_LAYOUT = "scenes-ddpm-layout"
LayoutOpt = typer.Option(..., "--layout", help='Items CLASS@X,Y[,SIZE] separated by ";" (x right, y down, in [0, 1] '
                         'of the canvas), e.g. "Sneaker@0.25,0.7;Bag@0.7,0.3".')


def note_line(notes: list[str], json_out: bool) -> None:
    """Clamps and other changes to the user's layout: one stderr line (none under --json, where run.json and the
    JSON object carry them)."""
    if notes and not json_out:
        err_console.print("note: " + "; ".join(notes), soft_wrap=True, markup=False, highlight=False)


def sample_layout(pipe, layout: str, *, n: int, out: Path, seed: int, dev, json_out: bool, t0: float) -> None:
    """The layout branch of ``diffusion sample``: n images of one layout."""

    from genlens.utils.images import save_grid, save_png
    from genlens.utils.seed import make_generator

    checked, notes = pipe.layout(layout)
    record = pipe.record()
    total = record["steps"]
    with progress_bar(f"sample ({pipe.config.sampler}, {total} steps)", total, quiet=json_out) as cb:
        imgs = pipe.sample(checked, n, generator=make_generator(seed, dev), callback=cb).cpu()
    for i, img in enumerate(imgs):
        save_png(img, out / f"{i}.png")
    save_grid(imgs, out / "grid.png", nrow=min(n, 8), upscale=2)
    result = {"model": str(pipe.bundle.folder), "kind": pipe.bundle.kind, **record, "n": n,
              "layout": checked.to_text(pipe.class_names), "layout_given": layout, "notes": notes,
              "images": int(imgs.shape[0]), "grid": str(out / "grid.png"), "seconds": round(time.perf_counter() - t0, 3)}
    write_run_json(out, command=command_line(), config={**result, "device": str(dev)}, seed=seed,
                   metrics={"images": result["images"]}, seconds=time.perf_counter() - t0)
    note_line(notes, json_out)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{result['images']} images of {result['layout']} -> {out}")


def edit_cmd(
    model: str = typer.Argument(SHIPPED_LAYOUT, help="Layout diffusion model: a folder or shipped name."),
    layout: str = LayoutOpt,
    move: str | None = typer.Option(None, "--move", help="Move item I's centre to X,Y: I:X,Y (e.g. 0:0.5,0.5)."),
    add: str | None = typer.Option(None, "--add", help="Add an item CLASS@X,Y[,SIZE]."),
    remove: int | None = typer.Option(None, "--remove", help="Remove item I."),
    n: int = typer.Option(4, "--n", help="Images (noise seeds), each drawn before and after the edit."),
    guidance: float | None = typer.Option(None, "--guidance", help="Classifier-free guidance over the layout s "
                                          "(default 3; 1 = off)."),
    sampler: str | None = SamplerOpt,
    steps: int | None = StepsOpt,
    guidance_interval: str | None = GuidanceIntervalOpt,
    timestep_spacing: str | None = SpacingOpt,
    out: Path = typer.Option(Path("out/diffusion/edit"), "--out", help="Output folder."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Edit a layout (move, add or remove an item) and sample again from the same noise: OUT/before/<i>.png,
    OUT/after/<i>.png, OUT/grid.png (row 1 before, row 2 after) and OUT/run.json.

    Example: genlens diffusion edit scenes-ddpm-layout --layout "Sneaker@0.25,0.7;Bag@0.7,0.3" --move 0:0.7,0.7
    """
    import torch

    from genlens.diffusion.layout import edit_layout_sample, parse_edit
    from genlens.diffusion.pipeline import DiffusionPipeline, settings_from_flags
    from genlens.utils.device import resolve_device
    from genlens.utils.images import save_grid, save_png
    from genlens.utils.seed import make_generator

    t0 = time.perf_counter()
    if n < 1:
        raise GenlensError(f"--n must be at least 1, got {n}")
    flags = settings_from_flags(sampler=sampler, steps=steps, guidance=guidance, guidance_interval=guidance_interval,
                                timestep_spacing=timestep_spacing)
    dev = resolve_device(device)
    pipe = DiffusionPipeline.from_folder(model, device=dev, **flags)
    before, _ = pipe.layout(layout)
    after = parse_edit(before, pipe.class_names, move=move, add=add, remove=remove)
    total = pipe.record()["steps"]
    with progress_bar(f"edit ({pipe.config.sampler}, {total} steps)", 2 * total, quiet=json_out) as cb:
        calls = iter(range(2 * total))
        res = edit_layout_sample(pipe, layout, after, make_generator(seed, dev), n=n,
                                 callback=lambda info: cb({"step": next(calls) + 1, "total": 2 * total}))
    for name, imgs in (("before", res.before), ("after", res.after)):
        for i, img in enumerate(imgs.cpu()):
            save_png(img, out / name / f"{i}.png")
    save_grid(torch.cat([res.before, res.after]).cpu(), out / "grid.png", nrow=n, upscale=2)
    names = pipe.class_names
    result = {"model": str(pipe.bundle.folder), **pipe.record(), "n": n,
              "layout_before": res.layout_before.to_text(names), "layout_after": res.layout_after.to_text(names),
              "edit": {"move": move, "add": add, "remove": remove}, "notes": res.notes,
              "grid": str(out / "grid.png"), "seconds": round(time.perf_counter() - t0, 3)}
    write_run_json(out, command=command_line(), config={**result, "device": str(dev)}, seed=seed,
                   metrics={"images": 2 * n}, seconds=time.perf_counter() - t0)
    note_line(res.notes, json_out)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{result['layout_before']} -> {result['layout_after']}: {n} image pairs in {out}")
