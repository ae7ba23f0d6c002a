"""``genlens gan train|sample|interpolate|edit``: the StyleGAN2-style baseline and EqGAN-SA."""
from __future__ import annotations

import dataclasses
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


def _to01(x):
    return (x.clamp(-1, 1) + 1) / 2


def _load(name: str, device: str):
    from genlens.gan.io import load_generator
    from genlens.utils.device import resolve_device

    return load_generator(name, device=resolve_device(device))


def fmnist_32(split: str, *, data_dir, limit: int | None = None):
    """Fashion-MNIST as (N, 1, 32, 32) float in [-1, 1] (28 px zero-padded by 2 on each side)."""
    import torch.nn.functional as F

    from genlens.data.fashion_mnist import load_fashion_mnist

    images = load_fashion_mnist(split, data_dir=data_dir).images
    if limit:
        images = images[:limit]
    x = images.float() / 127.5 - 1.0
    return F.pad(x, (2, 2, 2, 2), value=-1.0)


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
    from genlens.gan.io import save_generator, shipped_gan_folder
    from genlens.gan.networks import GanConfig
    from genlens.gan.train import GanTrainConfig, train_gan

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
    last = run.history[-1] if run.history else {}
    metrics = {"steps": run.step, "di": last.get("di"), "d_real": last.get("d_real"), "d_fake": last.get("d_fake"),
               "di_history": [[r["step"], r["di"]] for r in run.history if "di" in r]}
    folder = save_generator(out or shipped_gan_folder(arch), run.G_ema.cpu(), command=command_line(),
                            metrics=metrics, train=train_cfg.identity(), discriminator=run.pair.D.cpu())
    config = {"model": dataclasses.asdict(model_cfg), "train": dataclasses.asdict(train_cfg),
              "run_dir": str(run_dir), "model_folder": str(folder)}
    write_run_json(run_dir, command=command_line(), config=config, seed=seed, metrics=metrics,
                   seconds=time.perf_counter() - t0)
    end_distributed()  # under accelerate launch: all ranks done, no abort at exit
    if json_out:
        emit_json({"model_folder": str(folder), "run_dir": str(run_dir), **metrics})
    else:
        err_console.print(f"{arch}: {run.step} steps, DI {metrics['di']}, generator in {folder}")


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

    t0 = time.perf_counter()
    G = _load(name, device)
    files = _save_images(_to01(sample_images(G, n, seed)).cpu(), out)
    result = {"model": name, "arch": G.config.arch, "n": n, "files": files, "grid": str(out / "grid.png")}
    write_run_json(out, command=command_line(), config={"model": name, "n": n}, seed=seed, metrics=result,
                   seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{n} images in {out}")


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

    t0 = time.perf_counter()
    G = _load(name, device)
    files = _save_images(_to01(interp(G, seed, seed_b, steps=steps, space=space)).cpu(), out)
    result = {"model": name, "seeds": [seed, seed_b], "space": space, "files": files}
    write_run_json(out, command=command_line(), config={"model": name, "steps": steps, "space": space}, seed=seed,
                   metrics=result, seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{steps} frames in {out}")


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
    import torch

    from genlens.gan.edit import change_center_of_mass
    from genlens.gan.edit import edit as edit_image

    t0 = time.perf_counter()
    xy = parse_center(center)
    G = _load(name, device)
    res = edit_image(G, seed, center=xy, level=level)
    heat = torch.cat([res.before.maps[level], res.after.maps[level]])
    heat = heat / heat.amax(dim=(1, 2, 3), keepdim=True)
    images = torch.cat([_to01(res.original), _to01(res.edited), heat]).cpu()
    names = ["original", "edited", "heatmap_before", "heatmap_after"]
    from genlens.utils.images import save_grid, save_png

    files = {k: str(save_png(img, out / f"{k}.png", upscale=4)) for k, img in zip(names, images)}
    save_grid(images, out / "grid.png", nrow=4, upscale=4)
    com = change_center_of_mass(res.original, res.edited)[0].tolist()
    result = {"model": name, "seed": seed, "level": level,
              "center_before": res.before.centers[level][0].mean(0).tolist(), "center_after": list(xy),
              "change_center_of_mass": com, "files": files}
    write_run_json(out, command=command_line(), config={"model": name, "center": list(xy), "level": level},
                   seed=seed, metrics=result, seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"edited seed {seed} level {level} -> {xy}; images in {out}")


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
    from genlens.gan.di import di_from_checkpoint, load_training_checkpoint
    from genlens.gan.evaluate import class_coverage, editing_correlation, fid_kid, render_ms

    t0 = time.perf_counter()
    G = _load(name, device)
    if run_dir is not None:
        load_training_checkpoint(run_dir)  # a bad --run-dir fails now, in one line, before the long part
    dev = str(G.const.device)
    with progress_bar("gan eval", 5, quiet=json_out) as callback:
        scores = fid_kid(G, n, fmnist_28("test", data_dir=data_dir), extractor=features, seed=seed, device=dev,
                         kid_subset_size=min(1000, n))
        callback({"step": 1})
        coverage = class_coverage(G, n, seed=seed + 1, device=dev)
        callback({"step": 2})
        editing = (editing_correlation(G, latents_n=editing_latents, seed=seed + 2) if G.config.use_sel else None)
        callback({"step": 3})
        di = (di_from_checkpoint(run_dir, fmnist_32("test", data_dir=data_dir, limit=di_n), n=di_n, seed=seed,
                                 device=dev) if run_dir is not None else None)
        callback({"step": 4})
        render = render_ms(G, threads=render_threads)
        callback({"step": 5})
    result = {"model": name, "arch": G.config.arch, "n": n, "fid": scores["fid"].to_dict(),
              "kid": scores["kid"].to_dict(), "coverage": coverage.to_dict(), "editing": editing, "di": di,
              "render_ms": render, "seconds": round(time.perf_counter() - t0, 2)}
    if editing is None:
        result["editing_note"] = f"a {G.config.arch} generator has no heatmap input"
    if out is not None:
        write_run_json(out, command=command_line(), config={"model": name, "n": n, "features": features},
                       seed=seed, metrics=result, seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
    else:
        edit_txt = "n/a" if editing is None else f"{editing['correlation']:.3f} (slope {editing['slope']:.2f})"
        err_console.print(
            f"{name}: FID {scores['fid'].value:.2f}, KID {scores['kid'].value:.4f} ({scores['fid'].extractor}, "
            f"{n} samples); smallest class {coverage.min_class} {100 * coverage.min_fraction:.1f}%; editing r "
            f"{edit_txt}; render {render['median_ms']:.1f} ms on {render_threads} CPU threads"
            + ("" if di is None else f"; DI {di['di']:.3f}"))
