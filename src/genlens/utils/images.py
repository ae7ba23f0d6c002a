"""Image tensors <-> PNG files, grids and loading (library side: pure tensor helpers + explicit saves).

Convention: images are float tensors in [0, 1], shape (B, C, H, W), C in {1, 3}.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlens.errors import GenlensError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def safe_name(name: str, *, max_len: int = 80) -> str:
    """Folder name for a class or prompt: spaces, slashes and control characters become ``_`` (DESIGN.md
    section 1), leading dots too (so ``..`` or ``.hidden`` never climbs out or hides); never empty."""
    name = re.sub(r"[\s/\\\x00-\x1f\x7f]+", "_", name.strip())
    name = re.sub(r"^\.+", lambda m: "_" * len(m.group()), name)[:max_len]
    return name or "_"


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    arr = (img.detach().float().clamp(0, 1).cpu() * 255).round().to(torch.uint8)
    if arr.shape[0] == 1:
        return arr[0].numpy()
    return arr.permute(1, 2, 0).numpy()


def make_grid(images: torch.Tensor, *, nrow: int = 8, padding: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """Tile (B, C, H, W) into one (C, H', W') image, row-major, ``nrow`` images per row.

    torchvision's ``make_grid`` does the tiling; two of its conveniences are undone so every grid keeps
    its channels and its frame: it turns 1-channel images into 3 (we keep the first) and returns a single
    image unpadded (we pad it). (PNG writing stays ours: ``save_image`` rounds with +0.5 and always
    writes RGB.)"""
    from torchvision.utils import make_grid as tv_make_grid

    if images.ndim != 4:
        raise ValueError(f"make_grid expects (B, C, H, W), got shape {tuple(images.shape)}")
    if images.shape[0] == 1:
        return torch.nn.functional.pad(images[0], (padding,) * 4, value=pad_value)
    grid = tv_make_grid(images, nrow=max(1, nrow), padding=padding, pad_value=pad_value)
    return grid[: images.shape[1]]


def save_png(img: torch.Tensor, path: str | os.PathLike, *, upscale: int = 1) -> Path:
    """Save one (C, H, W) image; ``upscale`` enlarges with nearest neighbour so small images stay crisp."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil = Image.fromarray(to_uint8(img))
    if upscale > 1:
        pil = pil.resize((pil.width * upscale, pil.height * upscale), Image.NEAREST)
    pil.save(path)
    return path


def save_grid(images: torch.Tensor, path: str | os.PathLike, *, nrow: int = 8, upscale: int = 1) -> Path:
    return save_png(make_grid(images, nrow=nrow), path, upscale=upscale)


MAX_PIXELS_ENV = "GENLENS_MAX_IMAGE_PIXELS"
MAX_PIXELS = 4096 * 4096  # larger images are refused before decoding (a PNG can claim 30000x30000 in 69 bytes)


def max_image_pixels() -> int:
    """The largest width x height :func:`load_image` decodes: ``$GENLENS_MAX_IMAGE_PIXELS`` or 4096 x 4096."""
    raw = os.environ.get(MAX_PIXELS_ENV, "")
    try:
        value = int(raw) if raw else MAX_PIXELS
    except ValueError:
        raise GenlensError(f"{MAX_PIXELS_ENV}={raw!r} is not a whole number; set it to a pixel count such as "
                           f"{MAX_PIXELS}") from None
    if value < 1:
        raise GenlensError(f"{MAX_PIXELS_ENV} must be at least 1, got {value}")
    return value


def load_image(path: str | os.PathLike, *, channels: int = 1, size: int | None = None) -> torch.Tensor:
    """Load an image file as (C, H, W) float in [0, 1]; a non-image or one larger than
    :func:`max_image_pixels` (checked from the header, before decoding) gives a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise GenlensError(f"image '{path}' does not exist; pass the path of a PNG/JPEG file")
    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > limit:
                    raise GenlensError(f"image '{path}' is {w}x{h} pixels, more than the limit of {limit}; "
                                       f"shrink it or raise {MAX_PIXELS_ENV}")
                im.load()
                im = im.convert("L" if channels == 1 else "RGB")
                if size is not None and im.size != (size, size):
                    im = im.resize((size, size), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise GenlensError(f"image '{path}' is too large to decode safely ({exc}); shrink it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise GenlensError(f"'{path}' is not a readable image ({type(exc).__name__}); pass a PNG or JPEG file") from None
    t = torch.from_numpy(arr.copy())
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
