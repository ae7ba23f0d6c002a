"""``genlens metrics fid|kid|pr|is|judge`` on data specs: ``NAME[:split]``, ``folder:PATH``, ``npz:PATH``; the
feature extractor is any ``--features`` spec :func:`genlens.metrics.extractor_for` takes."""
from __future__ import annotations

from pathlib import Path

import typer

from genlens.cli.common import (
    AllowDownloadOpt,
    DataDirOpt,
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    emit_json,
    err_console,
    say_data_notes,
)

app = typer.Typer(help="FID, KID, precision/recall, Inception Score and classifier judging of image sets.\n\n"
                  "A set is a data spec: NAME[:train|test] (fashion-mnist, digits), folder:PATH (ROOT/<class>/*.png or "
                  "ROOT/*.png; a bare existing path works too) or npz:PATH (an .npz with 'images' and 'labels').\n\nExamples:\n\n"
                  "  genlens metrics fid fashion-mnist:test out/samples --json\n\n"
                  "  genlens metrics fid folder:photos folder:out/samples --features inception  (pytorch-fid's "
                  "local weights: comparable with papers)\n\n"
                  "  genlens metrics judge out/inverted --model fmnist-vit", no_args_is_help=True)

FeaturesOpt = typer.Option("genlens-fmnist", "--features", help="Feature extractor: genlens-fmnist (default, "
                           "development), genlens-eval (the evaluator, for reported numbers on Fashion-MNIST), "
                           "inception or inception:FILE (pytorch-fid's local weights file: the only FID comparable "
                           "with papers), or any classifier: a zoo model name, a model folder or timm:NAME[:FILE]. "
                           "Images are resized and converted to what the extractor takes.")
LimitOpt = typer.Option(None, "--limit", help="Use at most this many images of each set (first N).")


def _extractor(features: str, device: str, allow_download: bool):
    from genlens.metrics import extractor_for

    return extractor_for(features, device=device, allow_download=allow_download)


def _load(spec: str, *, data_dir: Path | None, limit: int | None, class_names=None):
    from genlens.data.spec import load_data

    data = load_data(spec, data_dir=data_dir, size=None, limit=limit, class_names=class_names)
    say_data_notes(data)
    return data


def _images(*specs: str, data_dir: Path | None, limit: int | None):
    """Each spec's images (N, C, H, W) in [0, 1]; what loading them did is said once for all of them."""
    from genlens.data.spec import load_data

    sets = [load_data(spec, data_dir=data_dir, size=None, limit=limit) for spec in specs]
    say_data_notes(*sets)
    return [d.float_images() for d in sets]


def _report(result: dict, json_out: bool) -> None:
    if json_out:
        emit_json(result)
    else:
        std = f" ± {result['std']:.4g}" if result.get("std") is not None else ""
        counts = f"n_real={result['n_real']}, " if result.get("n_real") is not None else ""
        err_console.print(f"{result['metric'].upper()} = {result['value']:.4g}{std} "
                          f"({counts}n_fake={result['n_fake']}, features={result['extractor']})")


@app.command("fid")
def fid(real: str = typer.Argument(..., help="Reference set, e.g. fashion-mnist:test."),
        fake: str = typer.Argument(..., help="Generated set."), features: str = FeaturesOpt,
        limit: int | None = LimitOpt, allow_download: bool = AllowDownloadOpt, device: str = DeviceOpt,
        data_dir: Path | None = DataDirOpt, json_out: bool = JsonOpt) -> None:
    """Fréchet distance between the feature statistics of two image sets.

    Example: genlens metrics fid fashion-mnist:test out/samples --json
    """
    from genlens.metrics import compute_fid

    ext = _extractor(features, device, allow_download)  # a missing weights file fails before any data loads
    r = compute_fid(*_images(real, fake, data_dir=data_dir, limit=limit),
                    extractor=ext)
    _report(r.to_dict(), json_out)


@app.command("kid")
def kid(real: str = typer.Argument(..., help="Reference set."), fake: str = typer.Argument(..., help="Generated set."),
        features: str = FeaturesOpt, subsets: int = typer.Option(100, "--subsets"),
        subset_size: int = typer.Option(1000, "--subset-size"), seed: int = SeedOpt,
        limit: int | None = LimitOpt, allow_download: bool = AllowDownloadOpt, device: str = DeviceOpt,
        data_dir: Path | None = DataDirOpt, json_out: bool = JsonOpt) -> None:
    """Kernel Inception Distance (unbiased MMD², cubic kernel) with its std over subsets.

    Example: genlens metrics kid fashion-mnist:test samples.npz --subsets 50
    """
    from genlens.metrics import compute_kid

    ext = _extractor(features, device, allow_download)  # a missing weights file fails before any data loads
    r = compute_kid(*_images(real, fake, data_dir=data_dir, limit=limit),
                    extractor=ext, subsets=subsets, subset_size=subset_size,
                    seed=seed)
    _report(r.to_dict(), json_out)


@app.command("pr")
def precision_recall(real: str = typer.Argument(..., help="Reference set, e.g. fashion-mnist:test."),
                     fake: str = typer.Argument(..., help="Generated set."), features: str = FeaturesOpt,
                     k: int = typer.Option(3, "--k", help="Neighbourhood size of the k-NN balls (paper: 3)."),
                     limit: int | None = LimitOpt, allow_download: bool = AllowDownloadOpt,
                     device: str = DeviceOpt, data_dir: Path | None = DataDirOpt, json_out: bool = JsonOpt) -> None:
    """Improved precision (fidelity) and recall (coverage) with k-NN balls (Kynkäänniemi et al. 2019).

    Example: genlens metrics pr fashion-mnist:test out/samples --features genlens-eval --json
    """
    from genlens.metrics import compute_precision_recall

    ext = _extractor(features, device, allow_download)  # a missing weights file fails before any data loads
    r = compute_precision_recall(*_images(real, fake, data_dir=data_dir, limit=limit),
                                 extractor=ext, k=k)
    if json_out:
        emit_json({"metric": "pr", **r.to_dict()})
    else:
        err_console.print(f"precision = {r.precision:.4f}, recall = {r.recall:.4f} (k={r.k}, n_real={r.n_real}, "
                          f"n_fake={r.n_fake}, features={r.extractor})")


@app.command("is")
def inception_score(images: str = typer.Argument(..., help="Image set."), features: str = FeaturesOpt,
                    splits: int = typer.Option(10, "--splits"), limit: int | None = LimitOpt,
                    allow_download: bool = AllowDownloadOpt, device: str = DeviceOpt,
                    data_dir: Path | None = DataDirOpt, json_out: bool = JsonOpt) -> None:
    """Inception Score under the extractor's classifier (genlens-fmnist: 10 classes, max 10).

    Example: genlens metrics is out/samples --json
    """
    from genlens.metrics import compute_inception_score

    ext = _extractor(features, device, allow_download)  # a missing weights file fails before any data loads
    r = compute_inception_score(*_images(images, data_dir=data_dir, limit=limit),
                                extractor=ext, splits=splits)
    _report(r.to_dict(), json_out)


@app.command("judge")
def judge(images: str = typer.Argument(..., help="Images in OUT/<class name>/*.png folders, or an .npz with labels."),
          model: str = typer.Option("fmnist-cnn", "--model", help="Zoo model, genlens-eval (the evaluator), a "
                                    "model folder or timm:NAME[:FILE] that judges."),
          limit: int | None = LimitOpt, allow_download: bool = AllowDownloadOpt, device: str = DeviceOpt, data_dir: Path | None = DataDirOpt,
          json_out: bool = JsonOpt) -> None:
    """Classify images with a zoo model and report top-1/top-5 per intended class.

    Example: genlens metrics judge out/inverted --model fmnist-vit --json
    """
    from genlens.metrics import judge as judge_fn
    from genlens.models.load import load_model

    handle = load_model(model, device=device, allow_download=allow_download)
    data = _load(images, data_dir=data_dir, limit=limit, class_names=handle.class_names)
    report = judge_fn(handle, data.float_images(), data.labels).to_dict()
    if json_out:
        emit_json(report)
        return
    err_console.print(f"judge {report['judge']}: top-1 {100 * report['top1']:.1f}%, top-5 "
                      f"{100 * report['top5']:.1f}% on {report['n']} images")
    for cname, r in report["per_class"].items():
        if r["n"]:
            err_console.print(f"  {cname:12s} top-1 {100 * r['top1']:5.1f}%  (n={r['n']})")
