"""``genlens gan train|sample|interpolate|edit``: the StyleGAN2-style baseline and EqGAN-SA."""
from __future__ import annotations

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
    emit_json,
    err_console,
    progress_bar,
    write_run_json,
)
from genlens.errors import GenlensError
from genlens.training.distributed import end_distributed

app = typer.Typer(
    help="GANs on Fashion-MNIST: a StyleGAN2-style baseline and EqGAN-SA (spatial awareness).\n\n"
         "Examples:\n\n  genlens gan train --arch eqgan-sa --steps 20000\n\n"
         "  genlens gan sample fmnist-eqgan --n 16 --out out/gan/samples\n\n"
         "  genlens gan edit fmnist-eqgan --seed 3 --center 0.5,-0.2 --out out/gan/edit",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Shipped GAN (fmnist-gan, fmnist-sel-only, fmnist-eqgan) "
                                             "or a folder written by `genlens gan train`.")]


def _load(name: str, device: str):
    from genlens.gan.io import load_generator
    from genlens.utils.device import resolve_device

    return load_generator(name, device=resolve_device(device))


def _finish(out: Path | None, result: dict, *, config: dict, seed: int, t0: float, json_out: bool, done: str) -> None:
    """run.json into ``out`` (if given), then the JSON object on stdout or one line on stderr."""
    if out is not None:
        write_run_json(out, command=command_line(), config=config, seed=seed, metrics=result,
                       seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
    else:
        err_console.print(done)


@app.command()
def train(
    arch: Annotated[str, typer.Option("--arch", help="stylegan2 (baseline), sel-only (ablation) or eqgan-sa.")]
    = "eqgan-sa",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps (one D and one G update each).")]
    = 20000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per training step.")] = 64,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Checkpoints (default out/gan/<arch>).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Model folder for the final EMA generator "
                                             "(default: the shipped fmnist-<arch> folder).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the checkpoint in --run-dir.")] = False,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=0)] = 1000,
    tiny: Annotated[bool, typer.Option("--tiny", help="A tiny network (smoke tests).")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=8, help="Use only the first N training images.")]
    = None,
    data_dir: Path | None = DataDirOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Train a GAN on Fashion-MNIST (32x32); writes checkpoints, the EMA generator and run.json.

    Example: genlens gan train --arch eqgan-sa --steps 20000 --run-dir out/gan/eqgan-sa
    """
    from genlens.gan.data import fmnist_32
    from genlens.gan.io import save_generator, shipped_gan_folder
    from genlens.gan.networks import GanConfig
    from genlens.gan.train import GanTrainConfig, train_gan
    from genlens.utils.config_io import to_dict

    t0 = time.perf_counter()
    model_cfg = GanConfig.tiny(arch) if tiny else GanConfig(arch=arch)
    train_cfg = GanTrainConfig(total_steps=steps, batch_size=batch, seed=seed, device=device,
                               checkpoint_every=checkpoint_every, di_every=max(steps // 20, 1))
    data = fmnist_32("train", data_dir=data_dir, limit=limit)
    held_out = fmnist_32("test", data_dir=data_dir, limit=1024)
    run_dir = run_dir or Path("out/gan") / arch
    with progress_bar(f"gan {arch}", steps, quiet=json_out) as callback:
        run = train_gan(model_config=model_cfg, config=train_cfg, data=data, held_out=held_out, run_dir=run_dir,
                        resume=resume, callback=lambda r: callback({**r, "loss": r["loss_g"]}))
    metrics = run.metrics()
    folder = save_generator(out or shipped_gan_folder(arch), run.G_ema.cpu(), command=command_line(),
                            metrics=metrics, train=train_cfg.identity(), discriminator=run.pair.D.cpu())
    config = {"model": to_dict(model_cfg), "train": to_dict(train_cfg), "run_dir": str(run_dir),
              "model_folder": str(folder)}
    write_run_json(run_dir, command=command_line(), config=config, seed=seed, metrics=metrics,
                   seconds=time.perf_counter() - t0)
    end_distributed()  # under accelerate launch: all ranks done, no abort at exit
    _finish(None, {"model_folder": str(folder), "run_dir": str(run_dir), **metrics}, config=config, seed=seed,
            t0=t0, json_out=json_out, done=f"{arch}: {run.step} steps, DI {metrics['di']}, generator in {folder}")


def _save_images(images01, out: Path, prefix: str = "") -> list[str]:
    from genlens.utils.images import save_grid, save_png

    files = [str(save_png(img, out / f"{prefix}{i}.png", upscale=4)) for i, img in enumerate(images01)]
    save_grid(images01, out / "grid.png", nrow=min(8, len(images01)), upscale=4)
    return files


@app.command()
def sample(
    name: NameArg,
    n: Annotated[int, typer.Option("--n", min=1, help="Number of images.")] = 16,
    out: Annotated[Path, typer.Option("--out", help="Output folder: <i>.png, grid.png, run.json.")]
    = Path("out/gan/samples"),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Sample images. Example: genlens gan sample fmnist-eqgan --n 16 --out out/gan/samples"""
    from genlens.gan.edit import sample as sample_images
    from genlens.gan.edit import to01

    t0 = time.perf_counter()
    G = _load(name, device)
    files = _save_images(to01(sample_images(G, n, seed)).cpu(), out)
    result = {"model": name, "arch": G.config.arch, "n": n, "files": files, "grid": str(out / "grid.png")}
    _finish(out, result, config={"model": name, "n": n}, seed=seed, t0=t0, json_out=json_out,
            done=f"{n} images in {out}")


@app.command()
def interpolate(
    name: NameArg,
    seed_b: Annotated[int, typer.Option("--to-seed", help="Seed of the end latent (start: --seed).")] = 1,
    steps: Annotated[int, typer.Option("--steps", min=2, help="Frames, ends included.")] = 8,
    space: Annotated[str, typer.Option("--space", help="z (slerp) or w (lerp).")] = "z",
    out: Annotated[Path, typer.Option("--out")] = Path("out/gan/interpolate"),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Interpolate between two seeds' latents. Example: genlens gan interpolate fmnist-eqgan --seed 0 --to-seed 5"""
    from genlens.gan.edit import interpolate as interp
    from genlens.gan.edit import to01

    t0 = time.perf_counter()
    G = _load(name, device)
    files = _save_images(to01(interp(G, seed, seed_b, steps=steps, space=space)).cpu(), out)
    result = {"model": name, "seeds": [seed, seed_b], "space": space, "files": files}
    _finish(out, result, config={"model": name, "steps": steps, "space": space}, seed=seed, t0=t0,
            json_out=json_out, done=f"{steps} frames in {out}")


def parse_center(text: str) -> tuple[float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise GenlensError(f"--center '{text}' is not x,y; give two numbers in [-1, 1], e.g. --center 0.5,-0.2") from None
    return x, y


@app.command()
def edit(
    name: NameArg,
    center: Annotated[str, typer.Option("--center", help="New heatmap centre x,y in [-1, 1] (x left to right, "
                                        "y top to bottom).")],
    level: Annotated[int, typer.Option("--level", help="Heatmap level: 1 (coarse, 4 px), 2 or 3.")] = 1,
    out: Annotated[Path, typer.Option("--out")] = Path("out/gan/edit"),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Move one heatmap level of a seed's image. Example: genlens gan edit fmnist-eqgan --seed 3 --center 0.5,0"""
    from genlens.gan.edit import edit as edit_image
    from genlens.utils.images import save_grid, save_png

    t0 = time.perf_counter()
    xy = parse_center(center)
    G = _load(name, device)
    res = edit_image(G, seed, center=xy, level=level)
    panels = res.panels().cpu()
    files = {k: str(save_png(img, out / f"{k}.png", upscale=4)) for k, img in zip(res.PANELS, panels, strict=True)}
    save_grid(panels, out / "grid.png", nrow=4, upscale=4)
    result = {"model": name, "seed": seed, "level": level, **res.summary(), "center_after": list(xy), "files": files}
    _finish(out, result, config={"model": name, "center": list(xy), "level": level}, seed=seed, t0=t0,
            json_out=json_out, done=f"edited seed {seed} level {level} -> {xy}; images in {out}")


@app.command("eval")
def evaluate(
    name: NameArg,
    n: Annotated[int, typer.Option("--n", min=10, help="Samples for FID, KID and class coverage.")] = 2000,
    features: Annotated[str, typer.Option("--features", help="FID/KID features: genlens-fmnist, inception, "
                                           "or a zoo model name.")] = "genlens-fmnist",
    editing_latents: Annotated[int, typer.Option("--editing-latents", min=1, help="Latents for the editing score "
                                                 "(12 heatmap moves each).")] = 64,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Training run dir (G + D checkpoint): also "
                                                 "report the disequilibrium indicator.")] = None,
    di_n: Annotated[int, typer.Option("--di-n", min=1, help="Held-out reals and fakes for DI.")] = 1024,
    render_threads: Annotated[int, typer.Option("--render-threads", min=1, help="CPU threads for render ms.")] = 2,
    out: Annotated[Path | None, typer.Option("--out", help="Also write run.json into this folder.")] = None,
    data_dir: Path | None = DataDirOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """FID/KID vs the test set, class coverage, editing score, CPU render time [and DI from --run-dir].

    Example: genlens gan eval fmnist-eqgan --n 2000 --run-dir out/gan/eqgan-sa --json
    """
    from genlens.gan.data import fmnist_28, fmnist_32
    from genlens.gan.di import load_training_checkpoint
    from genlens.gan.evaluate import evaluate_generator

    t0 = time.perf_counter()
    G = _load(name, device)
    if run_dir is not None:
        load_training_checkpoint(run_dir)  # a bad --run-dir fails now, in one line, before the long part
    held_out = fmnist_32("test", data_dir=data_dir, limit=di_n) if run_dir is not None else None
    with progress_bar("gan eval", 5, quiet=json_out) as callback:
        scores = evaluate_generator(G, n=n, test_images=fmnist_28("test", data_dir=data_dir), features=features,
                                    editing_latents=editing_latents, run_dir=run_dir, held_out=held_out, di_n=di_n,
                                    render_threads=render_threads, seed=seed, callback=callback)
    result = {"model": name, **scores, "seconds": round(time.perf_counter() - t0, 2)}
    fid, kid, cov, editing, di = (scores[k] for k in ("fid", "kid", "coverage", "editing", "di"))
    edit_txt = "n/a" if editing is None else f"{editing['correlation']:.3f} (slope {editing['slope']:.2f})"
    _finish(out, result, config={"model": name, "n": n, "features": features}, seed=seed, t0=t0, json_out=json_out,
            done=f"{name}: FID {fid['value']:.2f}, KID {kid['value']:.4f} ({fid['extractor']}, {n} samples); smallest "
                 f"class {cov['min_class']} {100 * cov['min_fraction']:.1f}%; editing r {edit_txt}; render "
                 f"{scores['render_ms']['median_ms']:.1f} ms on {render_threads} CPU threads"
                 + ("" if di is None else f"; DI {di['di']:.3f}"))
