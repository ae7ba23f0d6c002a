"""``genlens gan eval``: FID/KID, class coverage, editing score and render time of a GAN; GANs of other data
(trained folders) are scored by FID/KID against their own data under the features the user names."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from genlens.cli.common import DataDirOpt, DeviceOpt, JsonOpt, SeedOpt, progress_bar
from genlens.errors import GenlensError

NameArg = Annotated[str, typer.Argument(help="Shipped GAN (fmnist-gan, fmnist-sel-only, fmnist-eqgan, scenes-gan, "
                                             "scenes-eqgan, scenes-gan-layout) or a folder written by "
                                             "`genlens gan train`.")]


def evaluate(
    name: NameArg,
    n: Annotated[int, typer.Option("--n", min=10, help="Samples for FID, KID and class coverage.")] = 2000,
    features: Annotated[str | None, typer.Option("--features", help="FID/KID features: genlens-fmnist (default "
                                                  "for Fashion-MNIST GANs), inception, a zoo model name, or a "
                                                  "classifier folder (needed for GANs of other data, e.g. one from "
                                                  "`genlens zoo train cnn --data SPEC`), genlens-eval, "
                                                  "inception[:FILE] or timm:NAME[:FILE].")] = None,
    allow_download: Annotated[bool, typer.Option("--allow-download", help="Let --features timm:NAME fetch timm's "
                                                 "pretrained weights (off: never the network).")] = False,
    editing_latents: Annotated[int, typer.Option("--editing-latents", min=1, help="Latents for the editing score "
                                                 "(12 heatmap moves each).")] = 64,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Training run dir (G + D checkpoint): also "
                                                 "report the disequilibrium indicator.")] = None,
    di_n: Annotated[int, typer.Option("--di-n", min=1, help="Held-out reals and fakes for DI.")] = 1024,
    render_threads: Annotated[int, typer.Option("--render-threads", min=1, help="CPU threads for render ms.")] = 2,
    out: Annotated[Path | None, typer.Option("--out", help="Also write run.json into this folder.")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Score FID/KID against this data (its images must "
                                             "have the GAN's size). Default: the GAN's own data.")] = None,
    resolution: Annotated[int | None, typer.Option("--resolution", help="With --data: resize and centre-crop it "
                                                   "to N x N first.")] = None,
    data_dir: Path | None = DataDirOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """FID/KID vs the test set, class coverage, editing score, CPU render time [and DI from --run-dir].
    GANs of other data than Fashion-MNIST (or with --data): FID/KID against that data under --features.

    Example: genlens gan eval fmnist-eqgan --n 2000 --run-dir out/gan/eqgan-sa --json
    """
    from genlens.cli.gan_common import finish, load_gan
    from genlens.gan.data import fmnist_28, fmnist_32
    from genlens.gan.di import load_training_checkpoint
    from genlens.gan.evaluate import evaluate_generator
    from genlens.gan.io import FMNIST, model_data
    from genlens.metrics.extractors import extractor_for

    t0 = time.perf_counter()
    # a bad --features (a missing weights file, timm without --allow-download) fails now, before any sampling
    extractor = None if features is None else extractor_for(features, device=device, allow_download=allow_download)
    if data is not None or model_data(name).split(":")[0] != FMNIST:
        return _eval_on_data(name, data=data, resolution=resolution, features=features, extractor=extractor, n=n,
                             seed=seed, device=device, data_dir=data_dir, out=out, json_out=json_out, t0=t0)
    features = features or "genlens-fmnist"
    extractor = extractor or extractor_for(features, device=device)
    G = load_gan(name, device)
    if run_dir is not None:
        load_training_checkpoint(run_dir)  # a bad --run-dir fails now, in one line, before the long part
    held_out = fmnist_32("test", data_dir=data_dir, limit=di_n) if run_dir is not None else None
    with progress_bar("gan eval", 5, quiet=json_out) as callback:
        scores = evaluate_generator(G, n=n, test_images=fmnist_28("test", data_dir=data_dir), features=extractor,
                                    editing_latents=editing_latents, run_dir=run_dir, held_out=held_out, di_n=di_n,
                                    render_threads=render_threads, seed=seed, callback=callback)
    result = {"model": name, **scores, "seconds": round(time.perf_counter() - t0, 2)}
    fid, kid, cov, editing, di = (scores[k] for k in ("fid", "kid", "coverage", "editing", "di"))
    edit_txt = "n/a" if editing is None else f"{editing['correlation']:.3f} (slope {editing['slope']:.2f})"
    finish(out, result, config={"model": name, "n": n, "features": features}, seed=seed, t0=t0, json_out=json_out,
            done=f"{name}: FID {fid['value']:.2f}, KID {kid['value']:.4f} ({fid['extractor']}, {n} samples); smallest "
                 f"class {cov['min_class']} {100 * cov['min_fraction']:.1f}%; editing r {edit_txt}; render "
                 f"{scores['render_ms']['median_ms']:.1f} ms on {render_threads} CPU threads"
                 + ("" if di is None else f"; DI {di['di']:.3f}"))


def _eval_on_data(name: str, *, data: str | None, resolution: int | None, features: str | None, extractor, n: int,
                  seed: int, device: str, data_dir: Path | None, out: Path | None, json_out: bool, t0: float) -> None:
    """FID/KID of ``n`` samples against the GAN's own data (or ``data``) under ``features``."""
    from genlens.cli.gan_common import finish, load_gan
    from genlens.gan.evaluate import generate
    from genlens.gan.io import FMNIST, model_data_options
    from genlens.metrics.against_data import fid_kid_against
    from genlens.utils.data_record import real_images

    G = load_gan(name, device)
    trained = model_data_options(name, G.config)
    spec = data or trained.spec
    if G.config.use_layout:
        raise GenlensError(f"'{name}' is a layout GAN; it was trained on {trained.spec}, which the spatial editing "
                           "measurement scores (bench/spatial.py)")
    if features is None:
        raise GenlensError(f"a GAN scored on {spec} needs --features: a classifier trained on that data (genlens "
                           f"zoo train cnn --data {spec} --out DIR), a zoo name or a registered extractor"
                           + (" (e.g. genlens-fmnist)" if spec.split(":")[0] == FMNIST else ""))
    real = real_images(trained, data, model_px=G.config.resolution, model=name, resolution=resolution,
                       data_dir=data_dir)
    fake = (generate(G, n, seed=seed) + 1) / 2
    result = {"model": name, "data": spec, "n": n, "seed": seed,
              **fid_kid_against(fake, real, features=extractor, device=str(G.const.device), seed=seed),
              "seconds": round(time.perf_counter() - t0, 2)}
    finish(out, result, config={"model": name, "n": n, "features": features, "data": spec}, seed=seed, t0=t0,
            json_out=json_out, done=f"{name}: FID {result['fid']['value']:.2f}, KID {result['kid']['value']:.4f} "
                                    f"({result['fid']['extractor']}, {n} samples vs {len(real)} images of {spec})")
