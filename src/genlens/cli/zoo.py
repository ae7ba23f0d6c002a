"""``genlens zoo list|train|eval``: the small classifiers we train and ship."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from genlens.cli.common import (
    DATA_SPEC_HELP,
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
from genlens.training.distributed import end_distributed

app = typer.Typer(help="Small Fashion-MNIST classifiers (CNN, ViT, MLP-Mixer, ResMLP) trained by genlens.\n\n"
                  "Examples:\n\n  genlens zoo list\n\n  genlens zoo train fmnist-cnn --device cuda\n\n"
                  "  genlens zoo eval fmnist-vit --json", no_args_is_help=True)


@app.command("list")
def list_models(json_out: bool = JsonOpt) -> None:
    """List zoo models, their architecture and the shipped weights' test accuracy.

    Example: genlens zoo list --json
    """
    from genlens.models.load import shipped_folder
    from genlens.models.zoo import ZOO, get_spec
    from genlens.utils.io import read_json

    rows = []
    for name in ZOO.available():
        spec = get_spec(name)
        mpath = shipped_folder(name) / "manifest.json"
        metrics = read_json(mpath).get("metrics", {}) if mpath.is_file() else {}
        rows.append({"name": name, "arch": spec.arch, "description": spec.description,
                     "shipped": mpath.is_file(), "top1": metrics.get("top1"), "top5": metrics.get("top5")})
    if json_out:
        emit_json({"models": rows})
        return
    from rich.table import Table

    def fmt(v: float | None) -> str:
        return f"{100 * v:.2f}%" if v is not None else "not trained"

    table = Table("name", "arch", "test top-1", "test top-5", "description")
    for r in rows:
        table.add_row(r["name"], r["arch"], fmt(r["top1"]), fmt(r["top5"]), r["description"])
    from rich.console import Console

    Console().print(table)


@app.command("train")
def train(
    name: str = typer.Argument(..., help="Zoo model name, e.g. fmnist-cnn."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default runs/zoo/NAME)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the recipe's number of epochs."),
    resume: bool = typer.Option(False, "--resume", help="Continue the checkpoint in --out (OUT/last) exactly."),
    checkpoint_every: int = typer.Option(500, "--checkpoint-every", help="Also checkpoint every this many steps "
                                         "(0: only at the end and on Ctrl-C/SIGTERM)."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data: str = typer.Option("fashion-mnist", "--data", help="Registered data set to train on (its train split) "
                             "and test on (its test split)."),
    data_dir: Path | None = DataDirOpt,
    limit_batches: int | None = typer.Option(None, "--limit-batches", hidden=True,
                                                help="Smoke tests: stop each epoch after this many batches."),
    limit: int | None = typer.Option(None, "--limit", hidden=True,
                                        help="Smoke tests: evaluate on the first N test images only."),
    json_out: bool = JsonOpt,
) -> None:
    """Train a zoo model with the shipped recipe and write model.safetensors + config.json + manifest.json.

    Checkpoints go to OUT/last (kill it at any step, then --resume continues bit-exactly).

    Example: genlens zoo train fmnist-cnn --device cuda --out runs/zoo/fmnist-cnn
    """
    from dataclasses import replace

    from genlens.data.spec import load_train_test
    from genlens.models.weights_io import save_model_folder
    from genlens.models.zoo import get_spec
    from genlens.models.zoo.evaluate import evaluate_classifier
    from genlens.models.zoo.train import folder_contents, train_zoo_model
    from genlens.training.lock import run_lock
    from genlens.utils.device import resolve_device

    spec = get_spec(name)
    dev = resolve_device(device)
    out = out or Path("runs/zoo") / name
    train_data, test_data = load_train_test(data, data_dir=data_dir, test_limit=limit, what="zoo train")
    cfg = replace(spec.train, seed=seed)
    t0 = time.perf_counter()
    with run_lock(out, command=command_line()):
        with progress_bar(f"train {name} on {dev}", None, quiet=json_out) as cb:
            result = train_zoo_model(name, train_data, device=dev, config=cfg, epochs=epochs, callback=cb,
                                     limit_batches=limit_batches, run_dir=out, resume=resume,
                                     checkpoint_every=checkpoint_every)
        report = evaluate_classifier(result.handle, test_data)
        config, metrics = folder_contents(spec, result, report, device=dev)
        save_model_folder(out, result.handle.model, config=config, command=command_line(), metrics=metrics)
        write_run_json(out, command=command_line(), config=config, seed=seed, metrics=metrics,
                       seconds=time.perf_counter() - t0)
    end_distributed()  # under accelerate launch: all ranks done, no abort at exit
    summary = {"name": name, "out": str(out), "top1": report.top1, "top5": report.top5,
               "train_seconds": round(result.seconds, 1)}
    if json_out:
        emit_json(summary)
    else:
        err_console.print(f"{name}: test top-1 {100 * report.top1:.2f}%, top-5 {100 * report.top5:.2f}% -> {out}")


@app.command("eval")
def eval_model(
    name: str = typer.Argument(..., help="Zoo model name or a model folder."),
    weights: Path | None = typer.Option(None, "--weights", help="A .safetensors file to load instead."),
    out: Path | None = typer.Option(None, "--out", help="Folder for confusion.png and run.json "
                                       "(default out/zoo-eval/NAME)."),
    device: str = DeviceOpt,
    data: str = typer.Option("fashion-mnist:test", "--data", help=DATA_SPEC_HELP + " Folders map "
                             "OUT/<class name>/ onto the model's classes."),
    data_dir: Path | None = DataDirOpt,
    limit: int | None = typer.Option(None, "--limit", hidden=True,
                                        help="Smoke tests: evaluate on the first N test images only."),
    json_out: bool = JsonOpt,
) -> None:
    """Test-set top-1, top-5 and per-class accuracy, plus a confusion-matrix PNG.

    Example: genlens zoo eval fmnist-cnn --json
    """
    from genlens.data.spec import load_data
    from genlens.models.load import load_model
    from genlens.models.zoo.evaluate import evaluate_classifier
    from genlens.report.plots import confusion_png

    t0 = time.perf_counter()
    handle = load_model(name, device=device, weights=weights)
    test = load_data(data, split="test", data_dir=data_dir, class_names=handle.class_names, limit=limit)
    report = evaluate_classifier(handle, test)
    out = out or Path("out/zoo-eval") / Path(str(name)).name
    confusion_png(report.confusion, handle.class_names, out / "confusion.png", title=f"{handle.name} ({data})")
    result = {"name": handle.name, "top1": report.top1, "top5": report.top5, "per_class": report.per_class,
              "n": report.n, "confusion_png": str(out / "confusion.png")}
    write_run_json(out, command=command_line(), config={"name": str(name), "data": data}, seed=None, metrics=result,
                   seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("class", "accuracy", title=f"{handle.name}: top-1 {100 * report.top1:.2f}%, "
                  f"top-5 {100 * report.top5:.2f}% on {report.n} images of {data}")
    for cname, acc in report.per_class.items():
        table.add_row(cname, f"{100 * acc:.1f}%")
    Console().print(table)
    err_console.print(f"confusion matrix -> {out / 'confusion.png'}")
