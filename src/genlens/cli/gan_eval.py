"""``genlens gan eval``: FID/KID, class coverage, the locator's editing measurement and render time of a GAN; GANs
of other data (trained folders) are scored by FID/KID against their own data under the features the user names,
and layout or heatmap GANs of scenes by the editing measurement too."""
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
    edits: Annotated[int, typer.Option("--edits", min=2, help="Edits for the editing measurement (layout and "
                                       "heatmap GANs): one blob of a real test scene's layout moved each.")] = 500,
    locator: Annotated[str, typer.Option("--locator", help="Object locator for the editing measurement: the "
                                         "shipped scenes-locator or a folder from `genlens locator train`.")
                       ] = "scenes-locator",
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
    """FID/KID vs the test set, class coverage, editing measurement, CPU render time [and DI from --run-dir].
    GANs of other data than Fashion-MNIST (or with --data): FID/KID against that data under --features;
    layout GANs: the editing measurement only. Editing: --edits moves of real test scenes' blobs, objects
    found by --locator (slope 1 = the object follows; docs/spatial.md).

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
    G = load_gan(name, device)
    loc = _locator(G, locator, device=device, data_dir=data_dir)
    if data is not None or model_data(name).split(":")[0] != FMNIST:
        return _eval_on_data(name, G, loc, data=data, resolution=resolution, features=features, extractor=extractor,
                             n=n, edits=edits, seed=seed, data_dir=data_dir, out=out, json_out=json_out, t0=t0)
    features = features or "genlens-fmnist"
    extractor = extractor or extractor_for(features, device=device)
    if run_dir is not None:
        load_training_checkpoint(run_dir)  # a bad --run-dir fails now, in one line, before the long part
    held_out = fmnist_32("test", data_dir=data_dir, limit=di_n) if run_dir is not None else None
    model, scenes, threshold = loc or (None, None, 0.3)
    with progress_bar("gan eval", 5, quiet=json_out) as callback:
        scores = evaluate_generator(G, n=n, test_images=fmnist_28("test", data_dir=data_dir), features=extractor,
                                    locator=model, scenes=scenes, edits=edits, threshold=threshold, name=name,
                                    run_dir=run_dir, held_out=held_out, di_n=di_n, render_threads=render_threads,
                                    seed=seed, callback=callback)
    result = {"model": name, **scores, "seconds": round(time.perf_counter() - t0, 2)}
    fid, kid, cov, di = (scores[k] for k in ("fid", "kid", "coverage", "di"))
    finish(out, result, config={"model": name, "n": n, "features": features, "locator": locator, "edits": edits},
           seed=seed, t0=t0, json_out=json_out,
           done=f"{name}: FID {fid['value']:.2f}, KID {kid['value']:.4f} ({fid['extractor']}, {n} samples); smallest "
                f"class {cov['min_class']} {100 * cov['min_fraction']:.1f}%; editing {_edit_text(scores)}; render "
                f"{scores['render_ms']['median_ms']:.1f} ms on {render_threads} CPU threads"
                + ("" if di is None else f"; DI {di['di']:.3f}"))


def _locator(G, locator: str, *, device: str, data_dir: Path | None):
    """(locator, its real test scenes, its threshold) when the editing measurement applies to ``G``, else None."""
    if not (G.config.use_layout or G.config.use_sel):
        return None
    from genlens.metrics.locator import load_locator, locator_threshold
    from genlens.utils.device import resolve_device

    model = load_locator(locator, device=resolve_device(device))
    return model, _test_scenes(model, data_dir), locator_threshold(locator)


def _test_scenes(model, data_dir: Path | None):
    """The real fashion-scenes test split at the locator's canvas: the layouts the measurement edits."""
    from genlens.metrics.editing import real_test_scenes

    return real_test_scenes(model, data_dir=data_dir)


def _edit_text(scores: dict) -> str:
    ed = scores.get("locator_editing")
    if ed is None:
        return f"n/a ({scores.get('editing_note', 'no heatmap input')})"
    return (f"slope {ed['slope']['value']:.2f}, R2 {ed['r2']['value']:.2f}, median error "
            f"{ed['median_error_px']['value']:.1f} px ({ed['edits']} edits)")


def _eval_on_data(name: str, G, loc, *, data: str | None, resolution: int | None, features: str | None, extractor,
                  n: int, edits: int, seed: int, data_dir: Path | None, out: Path | None, json_out: bool,
                  t0: float) -> None:
    """FID/KID of ``n`` samples against the GAN's own data (or ``data``) under ``features``, and the editing
    measurement of a heatmap GAN; a layout GAN (its samples need layouts) gets the editing measurement only."""
    from genlens.cli.gan_common import finish
    from genlens.gan.evaluate import editing_reason, generate, locator_editing
    from genlens.gan.io import FMNIST, model_data_options
    from genlens.metrics.against_data import fid_kid_against
    from genlens.utils.data_record import real_images

    trained = model_data_options(name, G.config)
    spec = data or trained.spec
    reason = editing_reason(G, None if loc is None else loc[0])
    if G.config.use_layout and reason is not None:
        raise GenlensError(f"'{name}' is a layout GAN, scored by the editing measurement, but {reason}")
    if features is None and not G.config.use_layout:
        raise GenlensError(f"a GAN scored on {spec} needs --features: a classifier trained on that data (genlens "
                           f"zoo train cnn --data {spec} --out DIR), a zoo name or a registered extractor"
                           + (" (e.g. genlens-fmnist)" if spec.split(":")[0] == FMNIST else ""))
    result: dict = {"model": name, "data": spec, "n": n, "seed": seed}
    done = f"{name}:"
    if not G.config.use_layout:
        from genlens.cli.common import say_data_notes

        notes: list[str] = []
        real = real_images(trained, data, model_px=G.config.resolution, model=name, resolution=resolution,
                           data_dir=data_dir, notes=notes)
        say_data_notes(notes=notes)
        fake = (generate(G, n, seed=seed) + 1) / 2
        result.update(fid_kid_against(fake, real, features=extractor, device=str(G.const.device), seed=seed))
        done += (f" FID {result['fid']['value']:.2f}, KID {result['kid']['value']:.4f} ({result['fid']['extractor']}, "
                 f"{n} samples vs {len(real)} images of {spec});")
    if loc is not None and reason is None:
        model, scenes, threshold = loc
        with progress_bar("editing", edits, quiet=json_out) as callback:
            result["locator_editing"] = locator_editing(
                G, model, scenes, name=name, n=edits, seed=seed + 2, threshold=threshold,
                callback=lambda e: callback({"step": e.get("done", 0)}))
    else:
        result["editing_note"] = reason
    result["seconds"] = round(time.perf_counter() - t0, 2)
    finish(out, result, config={"model": name, "n": n, "features": features, "data": spec, "edits": edits},
           seed=seed, t0=t0, json_out=json_out,
           done=done + (f" editing {_edit_text(result)}" if G.config.use_sel or G.config.use_layout else ""))
