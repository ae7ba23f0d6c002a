"""Training batches from any data spec, in memory or streamed from a folder too big for memory.

A trainer makes two calls::

    data = open_data(options)                       # ImageData, or StreamedFolder for a big folder
    for images, labels, index in batches(data, batch=64, seed=seed, epoch=epoch):
        ...                                         # images uint8 (B, C, H, W), labels (B,), index (B,)

:func:`open_data` keeps data in memory unless it is a folder whose decoded size (images x channels x
resolution², estimated from a sample of file headers) is above :data:`STREAM_BYTES` (2 GiB), or ``stream=True``
asks for streaming. :func:`batches` yields the same tensors either way: the epoch's order is a permutation drawn
from ``(seed, epoch)`` only, batches are consecutive slices of it, and streamed images are decoded exactly as the
in-memory loader decodes them (:func:`genlens.utils.images.read_image`), so the same seed and epoch give the same
batches in memory and streamed, with any number of worker processes (``workers``, default 2; the DataLoader
returns batches in order). ``index`` are the images' positions in the data: ``captions_for(data)[i]`` is image
i's caption. Augmentations (``--hflip``) are the trainer's, applied to the batch with its own generator.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from genlens.data.base import ImageData
from genlens.data.folder import FolderIndex, scan_folder, split_root
from genlens.data.options import DataOptions, load_with_options
from genlens.errors import GenlensError
from genlens.utils.images import probe_image, read_image

STREAM_BYTES = 2 * 2**30  # a folder whose decoded images would take more than this streams from disk
PROBE_FILES = 256  # file headers read to guess channels, size and memory of a big folder
MAX_SKIPS = 64  # consecutive unreadable files a streamed read steps over before it stops with an error


@dataclass(frozen=True)
class StreamedFolder:
    """A folder read lazily, with the attributes trainers use on :class:`ImageData` (no ``images``)."""

    index: FolderIndex
    channels: int
    resolution: int
    labels: torch.Tensor  # (N,) int64
    captions: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    skipped: int = 0  # unreadable files are only found while reading: each is replaced by the next readable one

    def __len__(self) -> int:
        return len(self.index)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.index.class_names

    @property
    def labelled(self) -> bool:
        return self.index.labelled

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.resolution, self.resolution)

    @property
    def name(self) -> str:
        return f"folder/{self.index.root.resolve().name}"

    def dataset(self) -> FolderImages:
        return FolderImages(self.index.files, channels=self.channels, resolution=self.resolution)


class FolderImages(Dataset):
    """``dataset[i]`` -> (uint8 (C, R, R) image, the index actually read): an unreadable file is replaced by the
    next readable one (deterministic, whichever worker reads it)."""

    def __init__(self, files: tuple, *, channels: int, resolution: int) -> None:
        self.files, self.channels, self.resolution = files, channels, resolution

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        for k in range(MAX_SKIPS):
            j = (i + k) % len(self.files)
            try:
                return read_image(self.files[j], channels=self.channels, resolution=self.resolution).pixels, j
            except GenlensError:
                continue
        raise GenlensError(f"{MAX_SKIPS} files in a row from '{self.files[i]}' are unreadable; fix or remove them")


def open_data(options: DataOptions, *, split: str = "train", data_dir: str | os.PathLike | None = None,
              limit: int | None = None, stream: bool | None = None, max_bytes: int = STREAM_BYTES,
              callback: Callable[[dict], None] | None = None) -> ImageData | StreamedFolder:
    """The data ``options`` describe, ready for :func:`batches`: in memory (:func:`load_with_options`), or a
    :class:`StreamedFolder` when the spec is a folder and ``stream`` is True, or None and its estimated
    decoded size is above ``max_bytes``. Only folders stream (names and ``.npz`` files fit in memory).
    ``callback`` gets the in-memory decoding progress (``{"step": i, "total": n}``); ``data.notes`` are what the
    user should hear once (conversions, resizing, skipped files, no labels)."""
    from genlens.data.spec import parse_data_spec

    spec = parse_data_spec(options.spec)
    if spec.kind != "folder" or stream is False:
        data = load_with_options(options, split=split, data_dir=data_dir, limit=limit, callback=callback)
        if stream and spec.kind != "folder":
            data = _with_note(data, f"{spec} is read into memory (only folders stream)")
        return data
    index = scan_folder(split_root(spec.path, split))
    files = index.files[:limit] if limit else index.files
    channels, resolution, pixels = _probe(index, files, options)
    if not stream and len(files) * channels * pixels <= max_bytes:
        return load_with_options(options, split=split, data_dir=data_dir, limit=limit, callback=callback)
    return _streamed(index, files, channels, resolution)


def batches(data: ImageData | StreamedFolder, *, batch: int, seed: int = 0, epoch: int = 0, workers: int = 2,
            shuffle: bool = True, drop_last: bool = False, pin_memory: bool = False, start: int = 0
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of (images uint8 (B, C, H, W), labels int64 (B,), index int64 (B,)) batches (see the module
    docstring); the same for in-memory and streamed data and for any ``workers`` given ``seed`` and ``epoch``.
    ``len(list(...))`` is ``n // batch`` with ``drop_last``, else ``ceil(n / batch)``. ``pin_memory``: streamed
    batches in page-locked memory, for ``.to("cuda", non_blocking=True)``. ``start``: begin at that batch of the
    epoch without reading the ones before (an exact resume mid-epoch)."""
    if batch < 1:
        raise GenlensError(f"batch size {batch} must be at least 1")
    order = epoch_order(len(data), seed=seed, epoch=epoch) if shuffle else torch.arange(len(data))
    chunks = [order[i:i + batch] for i in range(0, len(order), batch)]
    if drop_last and chunks and len(chunks[-1]) < batch:
        chunks.pop()
    chunks = chunks[start:]
    if isinstance(data, ImageData):
        for idx in chunks:
            yield data.images[idx], data.labels[idx], idx
        return
    loader = DataLoader(data.dataset(), batch_sampler=[c.tolist() for c in chunks], num_workers=workers,
                        collate_fn=_collate, worker_init_fn=_one_thread, pin_memory=pin_memory)
    for images, index in loader:
        yield images, data.labels[index], index


def epoch_order(n: int, *, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of ``range(n)`` for one epoch, a function of (seed, epoch) alone."""
    state = np.random.SeedSequence([int(seed) % 2**64, int(epoch)]).generate_state(2, dtype=np.uint32)
    g = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    return torch.randperm(n, generator=g)


def batches_per_epoch(n: int, batch: int, *, drop_last: bool = False) -> int:
    return n // batch if drop_last else math.ceil(n / batch)


def estimated_bytes(options: DataOptions, *, split: str = "train", limit: int | None = None) -> int:
    """Decoded size in bytes of a folder spec under ``options`` (from a sample of headers); what :func:`open_data`
    compares with :data:`STREAM_BYTES`."""
    from genlens.data.spec import parse_data_spec

    index = scan_folder(split_root(parse_data_spec(options.spec).path, split))
    files = index.files[:limit] if limit else index.files
    channels, _, pixels = _probe(index, files, options)
    return len(files) * channels * pixels


def _probe(index: FolderIndex, files: tuple, options: DataOptions) -> tuple[int, int | None, int]:
    """(channels, square resolution or None, pixels per image) from up to :data:`PROBE_FILES` headers."""
    step = max(1, len(files) // PROBE_FILES)
    heads = [h for h in (probe_image(f) for f in files[::step][:PROBE_FILES]) if h is not None]
    channels = options.channels or (3 if any(colour for _, _, colour in heads) else 1)
    if options.resolution is not None:
        return channels, options.resolution, options.resolution ** 2
    sizes = {size for _, size, _ in heads}
    if len(sizes) == 1 and (size := sizes.pop())[0] == size[1]:
        return channels, size[0], size[0] * size[1]
    pixels = int(np.mean([w * h for _, (w, h), _ in heads])) if heads else 0
    return channels, None, pixels


def _streamed(index: FolderIndex, files: tuple, channels: int, resolution: int | None) -> StreamedFolder:
    from genlens.data.folder_captions import read_captions

    if resolution is None:
        raise GenlensError(f"'{index.root}' holds images of different or non-square sizes; streaming needs "
                           "--resolution N (resize and centre-crop to N x N)")
    notes = [*index.notes, f"streaming {len(files)} images from '{index.root}': decoded to {resolution}x"
             f"{resolution}, {'colour' if channels == 3 else 'grey'}, unreadable files replaced by the next readable one"]
    captions = read_captions(index.root, list(files), notes)
    labels = torch.tensor(index.labels[:len(files)], dtype=torch.int64)
    return StreamedFolder(index if len(files) == len(index) else _cut(index, len(files)), channels, resolution,
                          labels, captions, tuple(notes))


def _cut(index: FolderIndex, n: int) -> FolderIndex:
    import dataclasses

    return dataclasses.replace(index, files=index.files[:n], labels=index.labels[:n])


def _with_note(data: ImageData, note: str) -> ImageData:
    import dataclasses

    return dataclasses.replace(data, notes=(*data.notes, note))


def _collate(items: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.stack([x for x, _ in items]), torch.tensor([j for _, j in items], dtype=torch.int64)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # decoding is per-image work; one thread per worker avoids oversubscription
