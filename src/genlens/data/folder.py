"""Any folder of images, ImageFolder-style (``ROOT/<class>/.../<image>``) or flat (``ROOT/<image>``).

A split folder (``ROOT/train/`` beside ``ROOT/test/`` or ``ROOT/val/``) gives its splits (:func:`split_root`).
Labels: with two or more class sub-folders the sub-folder names are the classes (``labelled``); a flat folder,
or a folder whose sub-folders hold a single class, has no labels (``ImageData.labelled`` is False, every label
0, one class named after the folder): trainers then train unconditionally. Hidden files and folders and files
without an image suffix (``captions.jsonl``, a ``run.json``) are ignored; with class sub-folders, images at
the top level are ignored too (said in a note).

Images in any common format (PNG, JPEG, WebP, BMP, GIF's first frame, TIFF) and any mode are converted to the
requested channels (None: colour if any image is colour) and, with ``size`` N, resized (shorter side) and
centre-cropped to N x N. Unreadable or truncated files are skipped with a count in ``ImageData.notes``; when
more than 1 % are bad, loading stops with one line naming the first. Captions (``captions.jsonl`` or a
``.txt`` beside each image) are read into ``ImageData.captions`` (:mod:`genlens.data.folder_captions`).
"""
from __future__ import annotations

import itertools
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.utils.images import IMAGE_SUFFIXES, DecodedImage, read_image

MAX_BAD_FRACTION = 0.01  # more unreadable files than this is an error, not a skip
SPLIT_FOLDERS = {"train": ("train",), "test": ("test", "val", "valid", "validation")}


@dataclass(frozen=True)
class FolderIndex:
    """The image files of a folder in a fixed order (sorted by class, then by path) and their labels."""

    root: Path
    files: tuple[Path, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    labelled: bool
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.files)


def split_root(root: str | os.PathLike, split: str | None) -> Path:
    """``ROOT/<split>`` when the folder is split (``ROOT/train`` beside ``ROOT/test`` or ``ROOT/val``), else ROOT:
    a split folder's train and test parts are its splits, never two classes."""
    root = Path(root)
    found = {name: next((root / d for d in dirs if (root / d).is_dir()), None) for name, dirs in SPLIT_FOLDERS.items()}
    if found["train"] is None or found["test"] is None:
        return root
    if split not in found:
        raise GenlensError(f"'{root}' is split into {found['train'].name}/ and {found['test'].name}/; "
                           f"ask for split train or test, not '{split}'")
    return found[split]


def scan_folder(root: str | os.PathLike, *, class_names: tuple[str, ...] | None = None) -> FolderIndex:
    """List a folder's images without opening them. ``class_names``: map sub-folder names (``_`` for spaces and
    slashes) onto known classes (a model's), so label i means the model's class i."""
    root = Path(root)
    if not root.is_dir():
        raise GenlensError(f"image folder '{root}' does not exist; pass a folder of PNG/JPEG files")
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    groups = [(d.name, files) for d in subdirs if (files := _images_under(d))]
    notes = []
    top = _images_in(root)
    flat = not groups
    if not flat:
        if top:
            notes.append(f"{len(top)} image(s) at the top of '{root}' ignored: with class sub-folders, images go "
                         "in ROOT/<class>/")
        empty = [d.name for d in subdirs if d.name not in {g for g, _ in groups}]
        if empty:
            notes.append(f"empty sub-folder(s) ignored: {', '.join(empty[:5])}")
    else:
        groups = [(root.resolve().name or "images", top)]
    if not any(files for _, files in groups):
        raise GenlensError(f"no images found under '{root}'; put PNG/JPEG/WebP files in ROOT/<class>/ or ROOT/")
    names = tuple(g for g, _ in groups)
    label_of = list(range(len(groups)))
    if class_names is not None:
        from genlens.data.base import resolve_class

        label_of = [resolve_class(g.replace("_", " "), class_names) for g in names]
        names = tuple(class_names)
    labelled = not flat and (len(groups) > 1 or class_names is not None)
    if not labelled:
        why = "no class sub-folders" if flat else f"one class sub-folder ('{names[0]}')"
        notes.append(f"'{root}' has {why}: no labels, so training is unconditional")
    files = tuple(f for _, fs in groups for f in fs)
    labels = tuple(label_of[i] for i, (_, fs) in enumerate(groups) for _ in fs)
    return FolderIndex(root, files, labels, names, labelled, tuple(notes))


def load_image_folder(root: str | os.PathLike, *, channels: int | None = 1, size: int | None = 28,
                      class_names: tuple[str, ...] | None = None, limit: int | None = None,
                      callback: Callable[[dict], None] | None = None) -> ImageData:
    """The folder's images in memory as uint8 (N, C, size, size) (see the module docstring); ``limit`` reads
    only the first N files (in index order); ``callback({"step": files decoded, "total": N})`` reports progress.
    With ``channels`` and ``size`` given, images go straight into one preallocated tensor (peak memory: the data
    once, not twice)."""
    from genlens.data.folder_captions import read_captions

    index = scan_folder(root, class_names=class_names)
    files = index.files[:limit] if limit else index.files
    buf = torch.empty((len(files), channels, size, size), dtype=torch.uint8) if channels and size else None
    pixels: list[torch.Tensor] = []
    meta: list[tuple[str, tuple[int, int], int]] = []  # (file mode, file size, channels decoded) per kept image
    keep: list[int] = []
    bad: list[tuple[Path, str]] = []
    for i, d in enumerate(iter_decoded(files, channels=channels, resolution=size, callback=callback)):
        if isinstance(d, str):
            bad.append((files[i], d))
            check_bad(index.root, bad, len(files))  # stops as soon as too many are bad
            continue
        if buf is not None:
            buf[len(keep)] = d.pixels
        else:
            pixels.append(d.pixels)
        meta.append((d.mode, d.size, d.pixels.shape[0]))
        keep.append(i)
    notes = list(index.notes) + conversion_notes(meta, channels=channels, size=size)
    if buf is not None:
        images = buf[:len(keep)]
    else:
        if channels is None and len({p.shape[0] for p in pixels}) > 1:
            pixels = [p.expand(3, -1, -1) for p in pixels]  # grey among colour: repeat to RGB (exact)
        shapes = Counter(tuple(p.shape[1:]) for p in pixels)
        if len(shapes) > 1:
            (a, _), (b, _) = shapes.most_common(2)
            raise GenlensError(f"images under '{index.root}' have different sizes (e.g. {a[1]}x{a[0]} and "
                               f"{b[1]}x{b[0]}); pass --resolution N to resize and centre-crop them")
        images = torch.stack(pixels)
    if bad:
        notes.append(f"skipped {len(bad)} unreadable image(s) (first: {bad[0][0]})")
    kept_files = [files[i] for i in keep]
    return ImageData(images, torch.tensor([index.labels[i] for i in keep], dtype=torch.int64),
                     index.class_names, name=f"folder/{index.root.resolve().name}", labelled=index.labelled,
                     captions=read_captions(index.root, kept_files, notes), notes=tuple(notes), skipped=len(bad))


def iter_decoded(files: tuple[Path, ...] | list[Path], *, channels: int | None, resolution: int | None,
                 threads: int = 4, callback: Callable[[dict], None] | None = None) -> Iterator[DecodedImage | str]:
    """Each file decoded (:func:`~genlens.utils.images.read_image`), in order, or the one-line reason it failed.
    Threads overlap the decoding (Pillow releases the GIL while it decodes); a bounded window of files is in
    flight, so memory stays flat and stopping early cancels the rest."""
    def one(path: Path) -> DecodedImage | str:
        try:
            return read_image(path, channels=channels, resolution=resolution)
        except GenlensError as exc:
            return str(exc)

    n = max(1, min(threads, os.cpu_count() or 1))
    every = max(1, len(files) // 100)
    todo = iter(files)
    pool = ThreadPoolExecutor(n)
    try:
        pending = deque(pool.submit(one, f) for f in itertools.islice(todo, 4 * n))
        done = 0
        while pending:
            d = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(one, nxt))
            done += 1
            if callback is not None and (done % every == 0 or done == len(files)):
                callback({"step": done, "total": len(files)})
            yield d
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def check_bad(root: Path, bad: list[tuple[Path, str]], total: int) -> None:
    """Stop with one line when more than :data:`MAX_BAD_FRACTION` of ``total`` files are unreadable."""
    if bad and len(bad) > MAX_BAD_FRACTION * total:
        raise GenlensError(f"at least {len(bad)} of {total} images under '{root}' are unreadable (more than "
                           f"{MAX_BAD_FRACTION:.0%}); the first is '{bad[0][0]}': fix or remove it")


def conversion_notes(meta: list[tuple[str, tuple[int, int], int]], *, channels: int | None,
                     size: int | None) -> list[str]:
    """What decoding changed, said once: modes converted, sizes resized and cropped. ``meta``: (file mode,
    file size, channels decoded) per image."""
    notes = []
    colour = any(c == 3 for _, _, c in meta)
    target = "RGB" if (channels == 3 or (channels is None and colour)) else "L"
    modes = Counter(mode for mode, _, _ in meta if mode != target)
    if modes:
        notes.append(f"converted {sum(modes.values())} image(s) from {', '.join(sorted(modes))} to "
                     f"{'colour (RGB)' if target == 'RGB' else 'grey'}")
    if size is not None:
        sizes = Counter(wh for _, wh, _ in meta if wh != (size, size))
        if sizes:
            odd = sum(n for (w, h), n in sizes.items() if w != h)
            crop = f" ({odd} not square: centre kept)" if odd else ""
            eg = ", ".join(f"{w}x{h}" for (w, h), _ in sizes.most_common(3))
            notes.append(f"resized {sum(sizes.values())} image(s) of {len(sizes)} size(s) (e.g. {eg}) to "
                         f"{size}x{size}, shorter side then centre crop{crop}")
    return notes


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _is_image(p))


def _images_under(folder: Path) -> list[Path]:
    """Image files anywhere under ``folder`` (hidden folders skipped), sorted by path."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        out += [Path(dirpath) / f for f in filenames if _is_image(Path(dirpath) / f)]
    return sorted(out)


def _is_image(p: Path) -> bool:
    return not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
