"""``genlens data info|download|show``: where the data comes from and what it looks like."""
from __future__ import annotations

from pathlib import Path

import typer

from genlens.cli.common import DATA_SPEC_HELP, DataDirOpt, JsonOpt, SeedOpt, emit_json, err_console

app = typer.Typer(help="Data sets: Fashion-MNIST (offline from Debian's dataset-fashion-mnist), digits, folders.\n\n"
                  "A data set is named by a spec: NAME[:train|test], folder:PATH or npz:PATH.\n\n"
                  "Examples:\n\n  genlens data info\n\n  genlens data info folder:out/samples\n\n"
                  "  genlens data show --out out/data.png", no_args_is_help=True)


@app.command("info")
def info(name: str = typer.Argument("fashion-mnist", help=DATA_SPEC_HELP), data_dir: Path | None = DataDirOpt,
         json_out: bool = JsonOpt) -> None:
    """Where the data set was found, its size and class counts (both splits of a name without one).

    Example: genlens data info fashion-mnist --json
    """
    from genlens.data.spec import load_data, parse_data_spec

    spec = parse_data_spec(name)
    parts = (spec.split,) if spec.split else ("train", "test") if spec.kind == "name" else ("images",)
    out = {}
    for split in parts:
        d = load_data(spec, split=split, data_dir=data_dir, size=None)
        counts = d.labels.bincount(minlength=d.num_classes).tolist()
        out[split] = {"n": len(d), "shape": list(d.image_shape), "class_counts": dict(zip(d.class_names, counts))}
    if spec.name == "fashion-mnist":
        from genlens.data.fashion_mnist import find_fashion_mnist

        out["folder"] = str(find_fashion_mnist(data_dir))
    out["class_names"] = list(d.class_names)
    if json_out:
        emit_json(out)
    else:
        for k, v in out.items():
            err_console.print(f"{k}: {v}")


@app.command("download")
def download(out: Path | None = typer.Option(None, "--out", help="Folder for the files (default "
                                             "~/.cache/genlens/fashion-mnist).")) -> None:
    """Download Fashion-MNIST from its official location (needs internet) and verify checksums.

    Example: genlens data download
    """
    from genlens.data.fashion_mnist import download_fashion_mnist

    err_console.print(f"Fashion-MNIST ready in {download_fashion_mnist(out)}")


@app.command("show")
def show(name: str = typer.Argument("fashion-mnist", help=DATA_SPEC_HELP), out: Path = typer.Option(Path("out/data.png"), "--out"),
         per_class: int = typer.Option(8, "--n", help="Images per class."), seed: int = SeedOpt,
         data_dir: Path | None = DataDirOpt) -> None:
    """Write a PNG grid: one row per class.

    Example: genlens data show --n 10 --out out/data.png
    """
    from genlens.data.sample import per_class_sample
    from genlens.data.spec import load_data
    from genlens.utils.images import save_grid

    d = load_data(name, split="train", data_dir=data_dir)
    imgs = per_class_sample(d, per_class, seed=seed)
    save_grid(imgs, out, nrow=per_class, upscale=3)
    err_console.print(f"grid of {d.num_classes} classes x {per_class} -> {out}")
