"""``genlens gan train|sample|interpolate|edit``: the StyleGAN2-style baseline and EqGAN-SA."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer

from genlens.cli.common import (
    DataDirOpt,
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    command_line,
    err_console,
    progress_bar,
    say_data_notes,
    write_run_json,
)
from genlens.cli.data_opts import TRAIN_DATA_HELP, ChannelsOpt, HflipOpt, ResolutionOpt, conditional
from genlens.cli.gan_common import finish, load_gan
from genlens.cli.gan_eval import evaluate
from genlens.errors import GenlensError
from genlens.training.distributed import end_distributed, is_main_process
from genlens.utils.preset_costs import presets_help

app = typer.Typer(
    help="GANs: a StyleGAN2-style baseline, EqGAN-SA (spatial awareness) and a layout-conditioned GAN.\n\n"
         "Examples:\n\n  genlens gan train --arch eqgan-sa --steps 20000\n\n"
         "  genlens gan train --arch layout --data fashion-scenes --out runs/scenes-gan-layout/model\n\n"
         "  genlens gan sample fmnist-eqgan --n 16 --out out/gan/samples\n\n"
         "  genlens gan edit fmnist-eqgan --seed 3 --center 0.75,0.4 --out out/gan/edit",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Shipped GAN (fmnist-gan, fmnist-sel-only, fmnist-eqgan, scenes-gan, "
                                             "scenes-eqgan, scenes-gan-layout) or a folder written by "
                                             "`genlens gan train`.")]


@app.command()
def train(
    arch: Annotated[str, typer.Option("--arch", help="stylegan2 (baseline), sel-only (ablation), eqgan-sa, or "
                                      "layout (conditioned on layouts; needs data with layouts).")] = "eqgan-sa",
    data: Annotated[str, typer.Option("--data", help=TRAIN_DATA_HELP + " Images must be (or --resolution makes "
                                      "them) 32, 64 or 128 px; 28 px is padded to 32; folders load at 32 px.")]
    = "fashion-mnist",
    resolution: int | None = ResolutionOpt,
    channels: int | None = ChannelsOpt,
    hflip: bool = HflipOpt,
    cond: Annotated[str | None, typer.Option("--cond", help="class (G and a projection D see each image's class) or "
                                             "none. Default: class for a folder or .npz with labels of 2+ classes, "
                                             "none for the registered sets (the shipped GANs' recipe).")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps (one D and one G update each).")]
    = 20000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per training step (global: under accelerate launch, "
                                         "a multiple of the process count, split among them).")] = 64,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Checkpoints (default runs/gan/<arch>, "
                                                 "runs/gan/<data>-<arch> for other data).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Model folder for the final EMA generator "
                                             "(default <run-dir>/model; shipped models are never written).")]
    = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the checkpoint in --run-dir.")] = False,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=0)] = 1000,
    size: Annotated[str | None, typer.Option("--size", help="Network widths: default (alias 32) or half (the "
                                             "shipped CPU-trained GANs) at 32 px, 64, 128, or tiny (smoke tests, "
                                             "any canvas); default: the one of the images' canvas. "
                                             + presets_help("gan"))] = None,
    tiny: Annotated[bool, typer.Option("--tiny", help="Same as --size tiny.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=8, help="Use only the first N training images.")]
    = None,
    data_dir: Path | None = DataDirOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Train a GAN on any data spec at 32, 64 or 128 px, grey or colour, class-conditional on labelled folders;
    writes checkpoints, the EMA generator and run.json.

    Example: genlens gan train --arch eqgan-sa --data fashion-scenes --run-dir runs/scenes-eqgan --out DIR

    Your images: genlens gan train --data folder:photos --resolution 64 --channels 3 --hflip --out runs/photos-gan
    """
    from genlens.data.options import DataOptions
    from genlens.gan.config import check_canvas
    from genlens.gan.io import FMNIST
    from genlens.training.lock import run_lock

    t0 = time.perf_counter()
    if cond not in (None, "class", "none"):
        raise GenlensError(f"--cond '{cond}' is unknown; use class or none")
    if resolution is not None:
        check_canvas(resolution)  # one line before any data is read
    options = DataOptions(data, resolution, channels, hflip)
    run_dir = run_dir or Path("runs/gan") / (arch if data == FMNIST else f"{data.replace(':', '-')}-{arch}")
    with run_lock(run_dir):  # from the start: a second `gan train` on this folder is refused before any work
        _train(arch=arch, options=options, cond=cond, steps=steps, batch=batch, run_dir=run_dir, out=out, resume=resume,
               checkpoint_every=checkpoint_every, size="tiny" if tiny else size, limit=limit, data_dir=data_dir,
               seed=seed, device=device, json_out=json_out, t0=t0)


def _train(*, arch: str, options, cond: str | None, steps: int, batch: int, run_dir: Path, out: Path | None, resume: bool,
           checkpoint_every: int, size: str | None, limit: int | None, data_dir: Path | None, seed: int, device: str,
           json_out: bool, t0: float) -> None:
    from dataclasses import replace

    from genlens.gan.data import CANVAS, load_gan_data
    from genlens.gan.io import save_generator
    from genlens.gan.layout import train_inputs
    from genlens.gan.train import GanTrainConfig, train_gan
    from genlens.training.loop import RunFinished
    from genlens.utils.config_io import to_dict

    data = options.spec
    train_cfg = GanTrainConfig(total_steps=steps, batch_size=batch, seed=seed, device=device,
                               checkpoint_every=checkpoint_every, di_every=max(steps // 20, 1), hflip=options.hflip)
    if options.resolution is None and _is_folder(data):
        options = replace(options, resolution=CANVAS)  # folders: the shipped canvas unless --resolution says
    images, train_data = load_gan_data(options, "train", data_dir=data_dir, limit=limit)
    held_out, test_data = load_gan_data(options, "test", data_dir=data_dir, limit=1024)
    say_data_notes(train_data, test_data)
    labelled = arch != "layout" and conditional(train_data, what="training an unconditional GAN")
    if cond == "class" and not labelled:
        raise GenlensError("--cond class needs labels of 2+ classes (and an arch other than layout); use --cond none")
    use_labels = cond == "class" or (cond is None and labelled and not _is_registered(data))
    options = replace(options, resolution=int(train_data.images.shape[-1]), channels=int(images.shape[1]))
    inputs = train_inputs(arch, train_data, images, held_out, size=size, held_out_data=test_data,
                          conditional=use_labels)
    with progress_bar(f"gan {arch}", steps, quiet=json_out) as callback:
        run = train_gan(config=train_cfg, run_dir=run_dir, resume=resume,
                        callback=lambda r: callback({**r, "loss": r["loss_g"]}), **inputs)
    if not run.history:  # resumed at its last step: train_gan checked the config and wrote nothing; neither do we
        raise RunFinished(f"{run_dir} is already finished (step {run.step} of {steps}); nothing was changed; "
                          f"to train longer, pass --steps above {run.step}")
    metrics = run.metrics()
    model_cfg = inputs["model_config"]
    folder = out or run_dir / "model"
    config = {"model": to_dict(model_cfg), "train": to_dict(train_cfg), "data": to_dict(options), "run_dir": str(run_dir),
              "model_folder": str(folder)}
    if is_main_process():  # under accelerate launch only rank 0 writes the folder and prints
        save_generator(folder, run.G_ema.cpu(), command=command_line(), metrics=metrics, data=options,
                       train=train_cfg.identity(), discriminator=run.pair.D.cpu())
        write_run_json(run_dir, command=command_line(), config=config, seed=seed, metrics=metrics,
                       seconds=time.perf_counter() - t0)
    end_distributed()  # under accelerate launch: all ranks done, no abort at exit
    if not is_main_process():
        return
    finish(None, {"model_folder": str(folder), "run_dir": str(run_dir), **metrics}, config=config, seed=seed,
            t0=t0, json_out=json_out, done=f"{arch}: {run.step} steps, DI {metrics['di']}, generator in {folder}")


def _is_registered(spec: str) -> bool:
    from genlens.data.spec import parse_data_spec

    return parse_data_spec(spec).kind == "name"


def _is_folder(spec: str) -> bool:
    from genlens.data.spec import parse_data_spec

    return parse_data_spec(spec).kind == "folder"


def _save_images(images01, out: Path, prefix: str = "") -> list[str]:
    """PNGs enlarged to 128 px (nearest neighbour): 4x for the 32-px GANs, 2x at 64, as drawn at 128."""
    from genlens.utils.images import save_grid, save_png

    up = max(1, 128 // int(images01.shape[-1]))
    files = [str(save_png(img, out / f"{prefix}{i}.png", upscale=up)) for i, img in enumerate(images01)]
    save_grid(images01, out / "grid.png", nrow=min(8, len(images01)), upscale=up)
    return files


def _layout(G, text: str | None, *, moves: str | None = None):
    """``--layout`` (and ``--move``) for G: (layout, layout after the moves) with notes said once on stderr;
    (None, None) without ``--layout``. One-line errors: G takes no layout, or needs one."""
    from genlens.data.layout import EXAMPLE, parse_layout, validate_layout
    from genlens.gan.edit import move_items

    cfg = G.config
    if text is None:
        if cfg.use_layout:
            raise GenlensError(f"a layout GAN draws what a layout says; pass --layout, e.g. --layout {EXAMPLE}")
        return None, None
    if not cfg.use_layout:
        raise GenlensError(f"a '{cfg.arch}' generator takes no layout; use a layout GAN (scenes-gan-layout) "
                           "or drop --layout")
    layout, notes = parse_layout(text, cfg.class_names, max_items=cfg.max_items)
    after = None
    if moves is not None:
        after, more = validate_layout(move_items(layout, parse_moves(moves)), num_classes=len(cfg.class_names),
                                      max_items=cfg.max_items)
        notes += [f"after --move: {note}" for note in more]
    for note in notes:
        err_console.print(f"note: {note}")
    return layout, after


def parse_moves(text: str) -> list[tuple[int, tuple[float, float]]]:
    """``--move "0:0.5,0.5;1:0.2,0.8"``: item index, then its new centre x,y in [0, 1] (x right, y down)."""
    moves = []
    for part in (p for p in text.split(";") if p.strip()):
        index, sep, xy = part.partition(":")
        try:
            if not sep or len(xy.split(",")) != 2:
                raise ValueError
            x, y = (float(v) for v in xy.split(","))
            moves.append((int(index), (x, y)))
        except ValueError:
            raise GenlensError(f"--move '{part.strip()}' is not I:X,Y; give an item index, ':', then its new centre "
                               "x,y in [0, 1], e.g. --move 0:0.5,0.5") from None
    if not moves:
        raise GenlensError("--move is empty; give I:X,Y, e.g. --move 0:0.5,0.5")
    return moves


LayoutOpt = Annotated[str | None, typer.Option("--layout", help="Layout GANs: objects as CLASS@X,Y[,SIZE] items "
                                               "separated by ';' (x, y in [0, 1], x right, y down), e.g. "
                                               "\"Sneaker@0.25,0.7;Bag@0.7,0.3\".")]


@app.command()
def sample(
    name: NameArg,
    n: Annotated[int, typer.Option("--n", min=1, help="Number of images.")] = 16,
    layout: LayoutOpt = None,
    class_name: Annotated[str | None, typer.Option("--class", help="Class-conditional GANs: the class to draw "
                                                   "(name or index).")] = None,
    all_classes: Annotated[bool, typer.Option("--all-classes", help="Class-conditional GANs: --n images of "
                                              "every class.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Output folder: <i>.png (class-conditional: <class>/<i>.png), "
                                      "grid.png, run.json.")] = Path("out/gan/samples"),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Sample images (a layout GAN: all for one layout).

    Examples: genlens gan sample fmnist-eqgan --n 16 --out out/gan/samples;
    genlens gan sample scenes-gan-layout --layout "Sneaker@0.25,0.7;Bag@0.7,0.3" --n 8 --out out/gan/layout
    """
    from genlens.gan.edit import sample as sample_images
    from genlens.gan.edit import to01

    t0 = time.perf_counter()
    G = load_gan(name, device)
    items, _ = _layout(G, layout)
    if G.config.num_classes or class_name is not None or all_classes:
        from genlens.cli.gan_sample import sample_classes

        return sample_classes(G, name, class_name, all_classes, n=n, out=out, seed=seed, t0=t0, json_out=json_out)
    files = _save_images(to01(sample_images(G, n, seed, layout=items)).cpu(), out)
    result = {"model": name, "arch": G.config.arch, "n": n, "files": files, "grid": str(out / "grid.png")}
    if items is not None:
        result["layout"] = items.to_text(G.config.class_names)
    finish(out, result, config={"model": name, "n": n, "layout": result.get("layout")}, seed=seed, t0=t0,
            json_out=json_out, done=f"{n} images in {out}")


@app.command()
def interpolate(
    name: NameArg,
    seed_b: Annotated[int, typer.Option("--to-seed", help="Seed of the end latent (start: --seed).")] = 1,
    steps: Annotated[int, typer.Option("--steps", min=2, help="Frames, ends included.")] = 8,
    space: Annotated[str, typer.Option("--space", help="z (slerp) or w (lerp).")] = "z",
    layout: LayoutOpt = None,
    out: Annotated[Path, typer.Option("--out")] = Path("out/gan/interpolate"),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Interpolate between two seeds' latents. Example: genlens gan interpolate fmnist-eqgan --seed 0 --to-seed 5"""
    from genlens.gan.edit import interpolate as interp
    from genlens.gan.edit import to01

    t0 = time.perf_counter()
    G = load_gan(name, device)
    items, _ = _layout(G, layout)
    files = _save_images(to01(interp(G, seed, seed_b, steps=steps, space=space, layout=items)).cpu(), out)
    result = {"model": name, "seeds": [seed, seed_b], "space": space, "files": files}
    finish(out, result, config={"model": name, "steps": steps, "space": space}, seed=seed, t0=t0,
            json_out=json_out, done=f"{steps} frames in {out}")


def parse_center(text: str) -> tuple[float, float]:
    """``x,y`` in [0, 1] of the canvas (x right, y down); a centre outside is clamped, said once on stderr."""
    parts = text.replace(" ", "").split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError
    except ValueError:
        raise GenlensError(f"--center '{text}' is not x,y; give two numbers in [0, 1] (x right, y down), "
                           "e.g. --center 0.75,0.4") from None
    cx, cy = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
    if (cx, cy) != (x, y):
        err_console.print(f"note: --center ({x:g}, {y:g}) is outside the canvas, clamped to ({cx:g}, {cy:g})")
    return cx, cy


@app.command()
def edit(
    name: NameArg,
    center: Annotated[str | None, typer.Option("--center", help="Heatmap GANs: new heatmap centre x,y in [0, 1] of "
                                               "the canvas (x right, y down), as layouts; outside is clamped.")]
    = None,
    level: Annotated[int, typer.Option("--level", help="Heatmap level: 1 (coarse, 4 px), 2 or 3.")] = 1,
    layout: LayoutOpt = None,
    move: Annotated[str | None, typer.Option("--move", help="Layout GANs: I:X,Y moves item I's centre to x,y "
                                             "(several separated by ';'), e.g. --move 0:0.5,0.5.")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Layout GANs: latents to edit.")] = 1,
    out: Annotated[Path, typer.Option("--out")] = Path("out/gan/edit"),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Move a heatmap level (EqGAN-SA) or layout items (layout GANs) and draw the same latent again.

    Examples: genlens gan edit fmnist-eqgan --seed 3 --center 0.75,0.5;
    genlens gan edit scenes-gan-layout --layout "Sneaker@0.25,0.7;Bag@0.7,0.3" --move 0:0.5,0.5 --n 4
    """
    from genlens.gan.edit import edit as edit_image
    from genlens.utils.images import save_grid, save_png

    t0 = time.perf_counter()
    G = load_gan(name, device)
    if G.config.use_layout or layout is not None:
        if center is not None:
            raise GenlensError("a layout GAN moves layout items, not heatmaps; use --move I:X,Y instead of --center")
        _edit_layout(G, name, layout, move, n=n, out=out, seed=seed, t0=t0, json_out=json_out)
        return
    if center is None:
        raise GenlensError(f"a '{G.config.arch}' generator edits by heatmap; pass --center X,Y (in [0, 1])")
    xy = parse_center(center)
    res = edit_image(G, seed, center=xy, level=level)
    panels = res.panels().cpu()
    files = {k: str(save_png(img, out / f"{k}.png", upscale=4)) for k, img in zip(res.PANELS, panels, strict=True)}
    save_grid(panels, out / "grid.png", nrow=4, upscale=4)
    result = {"model": name, "seed": seed, "level": level, **res.summary(), "center_after": list(xy), "files": files}
    finish(out, result, config={"model": name, "center": list(xy), "level": level}, seed=seed, t0=t0,
            json_out=json_out, done=f"edited seed {seed} level {level} -> {xy}; images in {out}")


def _edit_layout(G, name: str, text: str | None, move: str | None, *, n: int, out: Path, seed: int, t0: float,
                 json_out: bool) -> None:
    import torch

    from genlens.data.layout import render_layout
    from genlens.gan.edit import edit_layout, to01
    from genlens.utils.images import save_grid, save_png

    if move is None:
        raise GenlensError("say which item moves where: --move I:X,Y, e.g. --move 0:0.5,0.5")
    before, after = _layout(G, text, moves=move)
    res = edit_layout(G, seed, before, after, n=n)
    images = torch.cat([to01(res.original), to01(res.edited)]).cpu()
    maps = render_layout([before, after], num_classes=len(G.config.class_names), canvas=G.config.resolution)
    maps = maps.amax(dim=1, keepdim=True).expand(-1, images.shape[1], -1, -1)
    files = {f"{k}_{i}": str(save_png(img, out / f"{k}_{i}.png", upscale=4))
             for k, part in (("original", images[:n]), ("edited", images[n:])) for i, img in enumerate(part)}
    files.update({k: str(save_png(m, out / f"{k}.png", upscale=4)) for k, m in zip(("layout_before", "layout_after"),
                                                                               maps, strict=True)})
    save_grid(images, out / "grid.png", nrow=n, upscale=4)
    names = G.config.class_names
    result = {"model": name, "seed": seed, "n": n, "layout_before": before.to_text(names),
              "layout_after": after.to_text(names), "files": files, "grid": str(out / "grid.png")}
    finish(out, result, config={"model": name, "layout": result["layout_before"], "move": move, "n": n}, seed=seed,
            t0=t0, json_out=json_out, done=f"edited seed {seed}: {result['layout_after']}; images in {out}")


app.command("eval")(evaluate)  # genlens gan eval (cli/gan_eval.py)
