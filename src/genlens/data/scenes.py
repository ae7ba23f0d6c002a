"""fashion-scenes: Fashion-MNIST items placed at random positions and sizes on a larger canvas (issue 27).

A scene holds 1 to ``max_items`` items drawn (with replacement) from one Fashion-MNIST split: train
scenes only from train items, test scenes only from test items. Each item is cropped to its nonzero
pixels, rescaled (aspect kept) so its longest side is a random fraction of the canvas that shrinks as
the item count grows (:func:`~genlens.data.scene_render.item_size_range`: one item 40-75 %, two 30-50 %,
three 25-40 %), and placed at a random integer position, redrawn until no two boxes overlap by more
than IoU ``max_iou`` (0.1). Grey scenes composite by maximum on black; ``rgb`` scenes tint each item
with a random bright colour (hue uniform, saturation 0.6-1, value 0.8-1) and alpha-composite it, its
intensity as alpha, over a dark random background (each channel uniform in [0, 0.2]). The geometry
does not depend on ``rgb``: the same seed gives the same layouts in both variants.

Ground truth per scene (slot 0 is the largest item; absent slots have class -1): classes, boxes
(the tight box of the item's nonzero pixels after rescaling, ``x0, y0, x1, y1`` with x1, y1
exclusive), centres (the box centre; pixel ``i`` spans ``[i, i + 1)``) and per-item masks (the
item's nonzero pixels before compositing). ``labels`` (the ImageData field) is slot 0's class.

Generated data are cached in ``~/.cache/genlens/fashion-scenes`` (beside the Fashion-MNIST cache) as
safetensors with a JSON holding the config and the file's sha256, keyed by the config and the Fashion-MNIST
files the items come from; a missing, unreadable or changed file is regenerated.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import torch

import genlens.data.scene_render as R
from genlens.data.base import ImageData
from genlens.data.fashion_mnist import CLASS_NAMES, FILES, cache_dir, find_fashion_mnist, load_fashion_mnist
from genlens.errors import GenlensError
from genlens.utils.config_io import from_dict, to_dict
from genlens.utils.io import atomic_write, atomic_write_json, sha256_file

FORMAT = 1  # bump when the generator changes, so old caches are rebuilt
SPLIT_COUNT = {"train": 60000, "test": 10000}


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    split: str = "train"
    count: int | None = None  # number of scenes; None: as many as the split has items (60000 / 10000)
    canvas: int = 32  # side in pixels (64 for GPUs)
    max_items: int = 3
    seed: int = 0
    rgb: bool = False
    max_iou: float = 0.1

    def __post_init__(self) -> None:
        if self.split not in SPLIT_COUNT:
            raise GenlensError(f"unknown split '{self.split}'; use train or test")
        if not 16 <= self.canvas <= 256:
            raise GenlensError(f"scene canvas {self.canvas} is out of range; use 32 (default) or 64")
        if not 1 <= self.max_items <= 4:
            raise GenlensError(f"max_items {self.max_items} is out of range; use 1 to 4 (default 3)")
        if self.count is not None and self.count < 1:
            raise GenlensError(f"scene count {self.count} must be at least 1; omit it for the full split")
        if not 0.0 <= self.max_iou < 1.0:
            raise GenlensError(f"max_iou {self.max_iou} must be in [0, 1); the default is 0.1")

    @property
    def n_scenes(self) -> int:
        return self.count if self.count is not None else SPLIT_COUNT[self.split]

    @property
    def name(self) -> str:
        return "fashion-scenes-rgb" if self.rgb else "fashion-scenes"


@dataclasses.dataclass(frozen=True)
class SceneData(ImageData):
    """Scenes as :class:`ImageData` plus their ground truth (K = ``max_items`` slots per scene)."""

    classes: torch.Tensor = dataclasses.field(kw_only=True)  # (N, K) int64, -1 where no item
    boxes: torch.Tensor = dataclasses.field(kw_only=True)  # (N, K, 4) int64 x0, y0, x1, y1 (exclusive)
    mask_bits: torch.Tensor = dataclasses.field(kw_only=True)  # (N, H, W) uint8, bit k = item k's mask
    config: SceneConfig = dataclasses.field(kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        n, k = self.classes.shape
        if self.boxes.shape != (n, k, 4) or self.mask_bits.shape != (n, *self.images.shape[2:]):
            raise ValueError("scene ground truth does not match the images")

    @property
    def canvas(self) -> int:
        return int(self.images.shape[-1])

    @property
    def counts(self) -> torch.Tensor:
        return (self.classes >= 0).sum(1)

    @property
    def centres_px(self) -> torch.Tensor:
        """(N, K, 2) box centres ``(x, y)`` in pixels (pixel i spans [i, i + 1)); absent slots give 0."""
        b = self.boxes.float()
        return torch.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2], -1)

    @property
    def centres(self) -> torch.Tensor:
        """(N, K, 2) box centres in [0, 1] canvas units, x to the right, y down."""
        return self.centres_px / self.canvas

    def masks(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Per-item masks as bool (n, K, H, W)."""
        bits = self.mask_bits if idx is None else self.mask_bits[idx]
        k = self.classes.shape[1]
        return (bits[:, None].int() >> torch.arange(k)[None, :, None, None]) & 1 == 1

    def subset(self, idx: torch.Tensor) -> SceneData:
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx], classes=self.classes[idx],
                                   boxes=self.boxes[idx], mask_bits=self.mask_bits[idx])

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"images": self.images, "classes": self.classes, "boxes": self.boxes, "mask_bits": self.mask_bits}


def generate_scenes(config: SceneConfig, items: ImageData, *, chunk: int = 4096) -> SceneData:
    """Scenes from ``items`` (uint8 (M, 1, 28, 28) Fashion-MNIST), deterministic for ``config.seed``."""
    g = torch.Generator().manual_seed(config.seed * 2 + (config.split == "test"))
    n, k, canvas = config.n_scenes, config.max_items, config.canvas
    counts = torch.randint(1, k + 1, (n,), generator=g)
    present = torch.arange(k)[None] < counts[:, None]  # (N, K)
    source = torch.randint(0, len(items), (n, k), generator=g)
    lo_hi = torch.tensor([R.item_size_range(c) for c in range(1, k + 1)])[counts - 1]  # (N, 2)
    u = torch.rand(n, k, generator=g)
    fractions = lo_hi[:, None, 0] + u * (lo_hi[:, None, 1] - lo_hi[:, None, 0])

    pix = items.images[:, 0]  # (M, 28, 28)
    crops = R.crop_boxes(pix)[source]  # (N, K, 4)
    h, w = R.target_shapes(crops.view(-1, 4), fractions.view(-1), canvas)
    h, w = h.view(n, k), w.view(n, k)
    patch = int(max(h.max(), w.max()))
    flat = present.view(-1)
    patches = torch.zeros(n * k, patch, patch, dtype=torch.uint8)
    patches[flat] = R.render_patches(pix[source.view(-1)[flat]], crops.view(-1, 4)[flat], h.view(-1)[flat],
                                     w.view(-1)[flat], patch)
    rel = R.mask_boxes(patches > 0).view(n, k, 4)

    # slot 0 = largest item (by box area), absent slots last
    area = torch.where(present, (rel[..., 2] - rel[..., 0]) * (rel[..., 3] - rel[..., 1]), -1)
    order = area.argsort(dim=1, descending=True, stable=True)
    take = lambda t: t.gather(1, order.view(n, k, *([1] * (t.ndim - 2))).expand_as(t))  # noqa: E731
    source, rel, h, w = take(source), take(rel), take(h), take(w)
    patches = take(patches.view(n, k, patch, patch))

    offsets = R.place(rel, h, w, present, canvas, config.max_iou, g)
    boxes = torch.where(present[..., None], rel + offsets.repeat(1, 1, 2), 0)
    classes = torch.where(present, items.labels[source], -1)

    colours = background = None
    if config.rgb:
        hsv = torch.rand(n, k, 3, generator=g) * torch.tensor([1.0, 0.4, 0.2]) + torch.tensor([0.0, 0.6, 0.8])
        colours, background = R.hsv_to_rgb(hsv), torch.rand(n, 3, generator=g) * 0.2
    images = torch.empty(n, 3 if config.rgb else 1, canvas, canvas, dtype=torch.uint8)
    bits = torch.empty(n, canvas, canvas, dtype=torch.uint8)
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        layers = R.paste(patches[sl].flatten(0, 1), offsets[sl].flatten(0, 1), canvas).view(-1, k, canvas, canvas)
        layers = layers * present[sl, :, None, None]
        bits[sl] = ((layers > 0).to(torch.uint8) << torch.arange(k, dtype=torch.uint8)[None, :, None, None]).sum(
            1, dtype=torch.uint8)
        images[sl] = (R.composite_rgb(layers, colours[sl], background[sl]) if colours is not None and background is not None
                      else R.composite_gray(layers))
    return SceneData(images, classes[:, 0].clone(), CLASS_NAMES, f"{config.name}/{config.split}", classes=classes,
                     boxes=boxes, mask_bits=bits, config=config)


def content_sha256(data: SceneData) -> str:
    """sha256 over the scenes' pixels and ground truth (independent of how they are stored)."""
    h = hashlib.sha256()
    for name, t in sorted(data.tensors().items()):
        h.update(name.encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def scenes_cache_dir() -> Path:
    return cache_dir().parent / "fashion-scenes"


def source_sha256(split: str, data_dir: str | os.PathLike | None = None) -> str:
    """What the scenes are built from: sha256 over the bytes of the split's two Fashion-MNIST files, as found
    for ``data_dir``. Scenes of one folder are never served for another with other files; the same files in
    two folders share their scenes."""
    folder = find_fashion_mnist(data_dir)
    digests = {name: sha256_file(folder / name) for name in FILES[split]}
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()


def config_key(config: SceneConfig, source: str) -> str:
    """The cache key: generator format, scene config and item source (:func:`source_sha256`)."""
    text = json.dumps({"format": FORMAT, "config": to_dict(config), "source": source}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_paths(config: SceneConfig, folder: str | os.PathLike | None = None, *,
                data_dir: str | os.PathLike | None = None, source: str | None = None) -> tuple[Path, Path]:
    """(tensors, meta) cache files of ``config``'s scenes built from the Fashion-MNIST files of ``data_dir``
    (or from ``source``, their :func:`source_sha256`)."""
    folder = Path(folder) if folder else scenes_cache_dir()
    source = source_sha256(config.split, data_dir) if source is None else source
    stem = f"{config.name}-{config.split}-{config_key(config, source)[:16]}"
    return folder / f"{stem}.safetensors", folder / f"{stem}.json"


def _read_cached(config: SceneConfig, key: str, tensors_path: Path, meta_path: Path) -> SceneData | None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("config_sha256") != key or meta.get("sha256") != sha256_file(tensors_path):
            return None
        if from_dict(SceneConfig, meta.get("config"), where=str(meta_path)) != config:
            return None
        t = load_file(str(tensors_path))
        return SceneData(t["images"], t["classes"][:, 0].clone(), CLASS_NAMES, f"{config.name}/{config.split}",
                         classes=t["classes"], boxes=t["boxes"], mask_bits=t["mask_bits"], config=config)
    except (OSError, ValueError, KeyError, GenlensError, SafetensorError):
        return None


def load_scenes(config: SceneConfig | None = None, *, data_dir: str | os.PathLike | None = None,
                cache: str | os.PathLike | None = None, items: ImageData | None = None) -> SceneData:
    """The scenes for ``config``, from the cache when its hash matches, else generated and cached.

    ``items`` replaces the Fashion-MNIST split as the item pool (tests); such scenes are not cached."""
    from safetensors.torch import save_file

    config = config or SceneConfig()
    if items is not None:
        return generate_scenes(config, items)
    source = source_sha256(config.split, data_dir)
    key = config_key(config, source)
    tensors_path, meta_path = cache_paths(config, cache, source=source)
    if tensors_path.is_file() and meta_path.is_file():
        hit = _read_cached(config, key, tensors_path, meta_path)
        if hit is not None:
            return hit
    start = time.perf_counter()
    data = generate_scenes(config, load_fashion_mnist(config.split, data_dir=data_dir))
    seconds = time.perf_counter() - start
    tensors = {k: v.contiguous() for k, v in data.tensors().items()}
    atomic_write(tensors_path, lambda p: save_file(tensors, str(p), metadata={"format": "pt"}))
    atomic_write_json(meta_path, {"format": FORMAT, "config": to_dict(config), "config_sha256": key,
                                  "source_sha256": source, "sha256": sha256_file(tensors_path), "content_sha256": content_sha256(data),
                                  "generate_seconds": round(seconds, 3)})
    return data
