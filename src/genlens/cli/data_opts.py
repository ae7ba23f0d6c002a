"""The data options every trainer shares: ``--data SPEC --resolution N --channels 1|3 --hflip``.

They build one :class:`~genlens.data.options.DataOptions`, which the trained folder records, so sampling and
evaluation later preprocess exactly as training did.
"""
from __future__ import annotations

import os
from typing import Any

import typer

from genlens.cli.common import err_console, say_data_notes

TRAIN_DATA_HELP = ("Training data: fashion-mnist (default), fashion-scenes, fashion-scenes-rgb, folder:PATH "
                   "(class labels from sub-folder names; a flat folder is one class) or npz:PATH.")
ResolutionOpt = typer.Option(None, "--resolution", help="Resize (shorter side) and centre-crop the images to N x N "
                             "pixels (default: the data's own size).")
ChannelsOpt = typer.Option(None, "--channels", help="1 (grey) or 3 (colour) image channels (default: the data's "
                           "own; folders load grey).")
HflipOpt = typer.Option(False, "--hflip", help="Random horizontal flips as a training augmentation (drawn from the "
                        "run's seeded generator, so --resume stays exact).")


def training_data(spec: str, *, resolution: int | None, channels: int | None, hflip: bool,
                  data_dir: str | os.PathLike | None, split: str = "train", limit: int | None = None) -> tuple[Any, Any]:
    """(DataOptions, ImageData) of the flags; the options are checked before anything is read, and what loading
    did (images converted, resized, skipped) is said once on stderr."""
    from genlens.data.options import DataOptions, load_with_options

    options = DataOptions(spec, resolution, channels, hflip)
    data = load_with_options(options, split=split, data_dir=data_dir, limit=limit)
    say_data_notes(data)
    return options, data


def conditional(data: Any, *, what: str) -> bool:
    """True when ``data`` has labels of more than one class; otherwise says once on stderr (also under --json,
    whose stdout stays one JSON object) that ``what`` trains unconditionally."""
    if data.num_classes > 1:
        return True
    err_console.print(f"note: {getattr(data, 'name', 'the data')} has one class (no labels); {what}")
    return False
