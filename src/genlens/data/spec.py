"""One way to name a data set on the command line and in the API: a *data spec*.

``NAME[:split]`` a registered data set (``fashion-mnist:test``, ``digits``), ``folder:PATH`` a folder of
images (``ROOT/<class>/*.png`` or ``ROOT/*.png``), ``npz:PATH`` an ``.npz`` with ``images`` (and ``labels``).
A bare folder or ``.npz`` path works too (as before specs). Every mistake is one line naming the fix.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from genlens.data.base import ImageData
from genlens.data.registry import DATASETS
from genlens.errors import GenlensError


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """A parsed data spec: ``kind`` is ``"name"``, ``"folder"`` or ``"npz"``; ``split`` only for names."""

    kind: str
    name: str = ""
    split: str | None = None
    path: Path | None = None

    def __str__(self) -> str:
        if self.kind == "name":
            return f"{self.name}:{self.split}" if self.split else self.name
        return f"{self.kind}:{self.path}"


def parse_data_spec(text: str | os.PathLike | DataSpec) -> DataSpec:
    """``text`` as a :class:`DataSpec`; an unknown name or an empty part is one :class:`GenlensError` line."""
    if isinstance(text, DataSpec):
        return text
    raw = str(text).strip()
    prefix, sep, rest = raw.partition(":")
    if sep and prefix in ("folder", "npz"):
        if not rest:
            raise GenlensError(f"data spec '{raw}' names no path; write {prefix}:PATH")
        return DataSpec(prefix, path=Path(rest))
    if prefix in DATASETS:
        if sep and not rest:
            raise GenlensError(f"data spec '{raw}' names no split; write {prefix}:train or {prefix}:test")
        return DataSpec("name", name=prefix, split=rest or None)
    path = Path(raw)
    if path.suffix == ".npz" and not path.is_dir():  # a bare path (as before specs)
        return DataSpec("npz", path=path)
    if raw and path.is_dir():
        return DataSpec("folder", path=path)
    hint = " (no such folder)" if os.sep in raw else ""
    raise GenlensError(f"unknown data set '{raw}'{hint}; choose one of: {', '.join(DATASETS.available())} "
                       "(NAME[:train|test]), or folder:PATH, npz:PATH")


def load_data(spec: str | os.PathLike | DataSpec, *, split: str = "train", data_dir: str | os.PathLike | None = None,
              channels: int | None = 1, size: int | None = 28, class_names: tuple[str, ...] | None = None,
              limit: int | None = None, callback: Callable[[dict], None] | None = None) -> ImageData:
    """The images a spec names. ``split`` applies when the spec names none; ``channels`` (None: colour if any
    image is), ``size`` (resize the shorter side, then centre-crop) and ``class_names`` (folder names mapped onto
    known classes) apply to folders (:mod:`genlens.data.folder`); ``limit`` keeps the first N. For the same
    preprocessing on every kind of spec use :func:`genlens.data.options.load_with_options`. ``callback`` gets a
    folder's decoding progress (``{"step": i, "total": n}``)."""
    s = parse_data_spec(spec)
    if s.kind == "name":
        data = DATASETS.create(s.name, split=s.split or split, data_dir=None if data_dir is None else str(data_dir))
    elif s.kind == "npz":
        from genlens.data.npz import load_npz

        data = load_npz(s.path)
    else:
        from genlens.data.folder import load_image_folder, split_root

        data = load_image_folder(split_root(s.path, split), channels=channels, size=size, limit=limit, callback=callback,
                                 class_names=tuple(class_names) if class_names is not None else None)
    return data.take(limit) if limit else data


def load_train_test(spec: str | os.PathLike | DataSpec, *, data_dir: str | os.PathLike | None = None,
                    test_limit: int | None = None, what: str = "training") -> tuple[ImageData, ImageData]:
    """The train and test splits of a registered data set named without a split, or of a split folder
    (``ROOT/train`` and ``ROOT/test`` or ``ROOT/val``), for trainers."""
    s = parse_data_spec(spec)
    if s.kind == "folder":
        from genlens.data.folder import split_root

        if split_root(s.path, "train") == s.path:
            raise GenlensError(f"data spec '{spec}': {what} needs train and test images; split the folder into "
                               "ROOT/train/<class>/ and ROOT/test/<class>/ (or ROOT/val/)")
    elif s.kind != "name" or s.split:
        raise GenlensError(f"data spec '{spec}': {what} needs a registered data set with train and test splits; "
                           "pass a name such as fashion-mnist or a folder with train/ and test/ sub-folders")
    return load_data(s, split="train", data_dir=data_dir), load_data(s, split="test", data_dir=data_dir,
                                                                      limit=test_limit)


def load_dataset(name_or_path: str | os.PathLike, *, split: str = "train", data_dir: str | None = None,
                 channels: int = 1, size: int | None = 28) -> ImageData:
    """:func:`load_data` under its first name (``split`` applies when the spec names none)."""
    return load_data(name_or_path, split=split, data_dir=data_dir, channels=channels, size=size)


def spec_captions(spec, split: str = "test") -> list[str]:
    """The captions (non-empty, in index order) of the images a folder ``spec`` names for ``split``, read
    without decoding a pixel; ``[]`` for other specs and uncaptioned folders."""
    from genlens.data.folder import scan_folder, split_root
    from genlens.data.folder_captions import read_captions

    s = parse_data_spec(spec)
    if s.kind != "folder":
        return []
    index = scan_folder(split_root(s.path, split))
    return [t for t in read_captions(index.root, list(index.files)) or () if t]
