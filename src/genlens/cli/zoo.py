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
    say_data_notes,
    write_run_json,
)
from genlens.cli.data_opts import TRAIN_DATA_HELP, ChannelsOpt, HflipOpt, ResolutionOpt
from genlens.errors import GenlensError
from genlens.training.distributed import end_distributed, is_main_process

app = typer.Typer(help="Small classifiers (CNN, ViT, MLP-Mixer, ResMLP) trained by genlens, on Fashion-MNIST or "
                  "your images.\n\nExamples:\n\n  genlens zoo list\n\n  genlens zoo train fmnist-cnn --device cuda\n\n"
                  "  genlens zoo train cnn --data folder:photos --resolution 64 --channels 3 --out runs/photos-cnn\n\n"
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
    name: str = typer.Argument(..., help="A zoo name (fmnist-cnn, fmnist-vit, fmnist-mixer, fmnist-resmlp: the "
                               "shipped recipe on 28x28 grey Fashion-MNIST), or an architecture sized for --data: "
                               "cnn, vit, mixer, resmlp, or timm:NAME (timm's model with random weights; nothing is "
                               "downloaded)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default runs/zoo/NAME; required for an "
                                    "architecture)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the recipe's number of epochs."),
    batch: int | None = typer.Option(None, "--batch", help="Override the recipe's batch size (128)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the checkpoint in --out (OUT/last) exactly."),
    checkpoint_every: int = typer.Option(500, "--checkpoint-every", help="Also checkpoint every this many steps "
                                         "(0: only at the end and on Ctrl-C/SIGTERM)."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data: str = typer.Option("fashion-mnist", "--data", help=TRAIN_DATA_HELP + " Registered sets train on their "
                             "train split and test on their test split; folders and .npz files hold out a fixed "
                             "10% to test."),
    resolution: int | None = ResolutionOpt,
    channels: int | None = ChannelsOpt,
    hflip: bool = HflipOpt,
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

    Your images: genlens zoo train vit --data folder:photos --resolution 64 --channels 3 --hflip --out runs/photos-vit
    """
    from dataclasses import replace

    from genlens.models.weights_io import save_model_folder
    from genlens.models.zoo.evaluate import evaluate_classifier
    from genlens.models.zoo.train import folder_contents, train_zoo_model
    from genlens.models.zoo.train_arch import check_resolution, is_arch
    from genlens.training.lock import run_lock
    from genlens.utils.device import resolve_device

    arch = is_arch(name)
    if arch and out is None:
        raise GenlensError(f"training the architecture '{name}' needs --out DIR (where its model folder goes)")
    if arch and resolution is not None:
        check_resolution(name, resolution)  # one line before any data is read
    dev = resolve_device(device)
    out = out or Path("runs/zoo") / name
    options, train_data, test_data = _train_test(data, resolution, channels, hflip, data_dir=data_dir)
    say_data_notes(train_data, test_data)
    test_data = test_data.take(limit) if limit else test_data
    spec = _spec(name, train_data, options)
    cfg = replace(spec.train, seed=seed, **({"batch_size": batch} if batch else {}))
    options = replace(options, resolution=spec.input_size[-1], channels=spec.input_size[0], hflip=cfg.hflip)
    t0 = time.perf_counter()
    with run_lock(out, command=command_line()):
        with progress_bar(f"train {name} on {dev}", None, quiet=json_out) as cb:
            result = train_zoo_model(spec, train_data, device=dev, config=cfg, epochs=epochs, callback=cb,
                                     limit_batches=limit_batches, run_dir=out, resume=resume,
                                     checkpoint_every=checkpoint_every)
        report = evaluate_classifier(result.handle, test_data)
        config, metrics = folder_contents(spec, result, report, device=dev, data=options)
        if is_main_process():  # under accelerate launch only rank 0 writes the folder and prints
            save_model_folder(out, result.handle.model, config=config, command=command_line(), metrics=metrics)
            write_run_json(out, command=command_line(), config=config, seed=seed, metrics=metrics,
                           seconds=time.perf_counter() - t0)
    end_distributed()  # under accelerate launch: all ranks done, no abort at exit
    if not is_main_process():
        return
    summary = {"name": name, "out": str(out), "top1": report.top1, "top5": report.top5,
               "train_seconds": round(result.seconds, 1)}
    if json_out:
        emit_json(summary)
    else:
        err_console.print(f"{name}: test top-1 {100 * report.top1:.2f}%, top-5 {100 * report.top5:.2f}% -> {out}")


def _train_test(spec: str, resolution: int | None, channels: int | None, hflip: bool, *, data_dir: Path | None):
    """(DataOptions, train, test): a registered set's two splits, else a fixed 10% of the images held out."""
    from genlens.data.options import DataOptions, load_with_options
    from genlens.data.spec import parse_data_spec
    from genlens.models.zoo.train_arch import holdout_split

    options = DataOptions(spec, resolution, channels, hflip)
    parsed = parse_data_spec(spec)
    if parsed.kind == "name" and parsed.split:
        raise GenlensError(f"data spec '{spec}': zoo train needs a registered data set with train and test splits; "
                           f"pass it without ':{parsed.split}' (or a folder:PATH / npz:PATH, of which 10% is held "
                           "out)")
    if parsed.kind == "name":
        return (options, load_with_options(options, split="train", data_dir=data_dir),
                load_with_options(options, split="test", data_dir=data_dir))
    return (options, *holdout_split(load_with_options(options, data_dir=data_dir)))


def _spec(name: str, train_data, options):
    """The ZooSpec to train: an architecture sized for the data, or a zoo name whose input the data must fit."""
    from dataclasses import replace

    from genlens.models.zoo import get_spec
    from genlens.models.zoo.train_arch import arch_spec, is_arch

    if is_arch(name):
        return arch_spec(name, train_data, hflip=options.hflip)
    spec = get_spec(name)
    shape = tuple(int(v) for v in train_data.images.shape[1:])
    if shape != spec.input_size or train_data.num_classes != len(spec.class_names):
        raise GenlensError(f"{name} takes {spec.input_size[1]}x{spec.input_size[2]} images of "
                           f"{len(spec.class_names)} Fashion-MNIST classes but --data {options.spec} gives "
                           f"{shape[1]}x{shape[2]} ({train_data.num_classes} classes); train an architecture for it: "
                           f"genlens zoo train {spec.arch} --data {options.spec} --out DIR")
    return replace(spec, train=replace(spec.train, hflip=spec.train.hflip or options.hflip)) if options.hflip else spec


@app.command("eval")
def eval_model(
    name: str = typer.Argument(..., help="Zoo model name or a model folder."),
    weights: Path | None = typer.Option(None, "--weights", help="A .safetensors file to load instead."),
    out: Path | None = typer.Option(None, "--out", help="Folder for confusion.png and run.json "
                                       "(default out/zoo-eval/NAME)."),
    device: str = DeviceOpt,
    data: str | None = typer.Option(None, "--data", help=DATA_SPEC_HELP + " Folders map OUT/<class name>/ onto "
                                    "the model's classes. Default: the model's own test data (fashion-mnist:test "
                                    "for the zoo; a folder or .npz it trained on: its held-out 10%)."),
    resolution: int | None = typer.Option(None, "--resolution", help="Resize and centre-crop --data to N x N (it "
                                          "must then match the model's input size)."),
    data_dir: Path | None = DataDirOpt,
    limit: int | None = typer.Option(None, "--limit", hidden=True,
                                        help="Smoke tests: evaluate on the first N test images only."),
    json_out: bool = JsonOpt,
) -> None:
    """Test-set top-1, top-5 and per-class accuracy, plus a confusion-matrix PNG.

    Example: genlens zoo eval fmnist-cnn --json
    """
    from genlens.models.load import load_model
    from genlens.models.zoo.evaluate import classifier_data, evaluate_classifier
    from genlens.report.plots import confusion_png

    t0 = time.perf_counter()
    handle = load_model(name, device=device, weights=weights)
    test = classifier_data(handle, data, split="test", data_dir=data_dir, limit=limit, resolution=resolution)
    say_data_notes(test)
    data = data or handle.meta["data"].spec
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
