"""``genlens data info|download|show``: where the data comes from and what it looks like."""
from __future__ import annotations

from pathlib import Path

import typer

from genlens.cli.common import (
    DATA_SPEC_HELP,
    DataDirOpt,
    JsonOpt,
    SeedOpt,
    emit_json,
    err_console,
    progress_bar,
    say_data_notes,
)
from genlens.errors import GenlensError

app = typer.Typer(help="Data sets: Fashion-MNIST (offline from Debian's dataset-fashion-mnist), digits, folders, .npz.\n\n"
                  "A data set is named by a spec: NAME[:train|test], folder:PATH or npz:PATH. A folder holds images in "
                  "any common format, in ROOT/<class>/ (labelled) or flat (unlabelled), with optional captions "
                  "(ROOT/captions.jsonl or a .txt beside each image).\n\n"
                  "Examples:\n\n  genlens data info\n\n  genlens data info --data folder:photos --resolution 64 "
                  "--channels 3\n\n  genlens data show --data npz:set.npz --out out/data.png", no_args_is_help=True)

SpecArg = typer.Argument(None, help=DATA_SPEC_HELP + " Same as --data.", show_default=False)
DataOpt = typer.Option(None, "--data", help=DATA_SPEC_HELP + " Default: fashion-mnist.", show_default=False)
ResolutionOpt = typer.Option(None, "--resolution", help="Resize (shorter side) and centre-crop to N x N pixels "
                             "(default: the images' own size).", show_default=False)
ChannelsOpt = typer.Option(None, "--channels", help="1 (grey) or 3 (colour); default: the data's own (a folder: "
                           "colour if any image is).", show_default=False)


def _options(name: str | None, data: str | None, resolution: int | None, channels: int | None):
    from genlens.data.options import DataOptions

    if name is not None and data is not None and name != data:
        raise GenlensError(f"two data specs given ('{name}' and --data '{data}'); pass one of them")
    return DataOptions(spec=data or name or "fashion-mnist", resolution=resolution, channels=channels)


@app.command("info")
def info(name: str | None = SpecArg, data: str | None = DataOpt, resolution: int | None = ResolutionOpt,
         channels: int | None = ChannelsOpt, data_dir: Path | None = DataDirOpt, json_out: bool = JsonOpt) -> None:
    """Where the data set was found, its size, channels, labels, class counts, captions and skipped files
    (both splits of a name without one). A folder too big for memory is counted without decoding it.

    Example: genlens data info --data folder:photos --resolution 64 --json
    """
    from genlens.data.folder import split_root
    from genlens.data.spec import parse_data_spec
    from genlens.data.stream import open_data

    options = _options(name, data, resolution, channels)
    spec = parse_data_spec(options.spec)
    split_folder = spec.kind == "folder" and split_root(spec.path, "train") != spec.path
    parts = (spec.split,) if spec.split else ("train", "test") if spec.kind == "name" or split_folder else ("images",)
    out: dict = {}
    notes: list[str] = []
    for split in parts:
        with progress_bar(f"reading {split}", None) as callback:
            d = open_data(options, split=split, data_dir=data_dir, callback=callback)
        counts = d.labels.bincount(minlength=d.num_classes).tolist()
        c, h, w = d.image_shape
        out[split] = {"n": len(d), "shape": [c, h, w], "channels": c, "size": [h, w], "labelled": d.labelled,
                      "class_counts": dict(zip(d.class_names, counts)), "captions": d.captions is not None,
                      "skipped": d.skipped, "notes": list(d.notes)}
        notes += d.notes
    if spec.name == "fashion-mnist":
        from genlens.data.fashion_mnist import find_fashion_mnist

        out["folder"] = str(find_fashion_mnist(data_dir))
    out["class_names"] = list(d.class_names)
    if json_out:
        emit_json(out)
        return
    say_data_notes(notes=notes)
    for k, v in out.items():
        if isinstance(v, dict):
            v = {key: val for key, val in v.items() if key != "notes"}
        err_console.print(f"{k}: {v}", markup=False, highlight=False)


@app.command("download")
def download(out: Path | None = typer.Option(None, "--out", help="Folder for the files (default "
                                             "~/.cache/genlens/fashion-mnist).")) -> None:
    """Download Fashion-MNIST from its official location (needs internet) and verify checksums.

    Example: genlens data download
    """
    from genlens.data.fashion_mnist import download_fashion_mnist

    err_console.print(f"Fashion-MNIST ready in {download_fashion_mnist(out)}")


@app.command("show")
def show(name: str | None = SpecArg, data: str | None = DataOpt, resolution: int | None = ResolutionOpt,
         channels: int | None = ChannelsOpt, out: Path = typer.Option(Path("out/data.png"), "--out"),
         per_class: int = typer.Option(8, "--n", help="Images per class."), seed: int = SeedOpt,
         data_dir: Path | None = DataDirOpt) -> None:
    """Write a PNG grid: one row per class (one row for unlabelled data), preprocessed as a trainer would.

    Example: genlens data show --data folder:photos --resolution 64 --channels 3 --n 10 --out out/data.png
    """
    from genlens.data.options import load_with_options
    from genlens.data.sample import per_class_sample
    from genlens.utils.images import save_grid

    with progress_bar("reading images", None) as callback:
        d = load_with_options(_options(name, data, resolution, channels), split="train", data_dir=data_dir,
                              callback=callback)
    say_data_notes(d)
    imgs = per_class_sample(d, per_class, seed=seed)
    save_grid(imgs, out, nrow=per_class, upscale=3 if d.image_shape[-1] <= 32 else 1)
    err_console.print(f"grid of {d.num_classes} classes x {per_class} -> {out}")
