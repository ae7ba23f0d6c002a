"""Image tensors <-> PNG files, grids and loading (library side: pure tensor helpers + explicit saves).

Convention: images are float tensors in [0, 1], shape (B, C, H, W), C in {1, 3}.
"""
from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

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
    """Load an image file as (C, H, W) float in [0, 1], squashed to ``size`` x ``size`` when given (for a
    model's input; data sets use :func:`read_image`, which keeps the aspect ratio and centre-crops); a
    non-image or one larger than :func:`max_image_pixels` gives a one-line error."""
    with _opened(path) as (im, _, _):
        im = convert_mode(im, channels)
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        arr = np.asarray(im, dtype=np.float32) / 255.0
    t = torch.from_numpy(arr.copy())
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)


class DecodedImage(NamedTuple):
    pixels: torch.Tensor  # (C, H, W) uint8
    mode: str  # the file's PIL mode before conversion ("RGB", "L", "P", "RGBA", "I;16", ...)
    size: tuple[int, int]  # the file's (width, height) before resizing


def read_image(path: str | os.PathLike, *, channels: int | None = None, resolution: int | None = None) -> DecodedImage:
    """One image file as uint8 (C, H, W): the first frame (GIF, TIFF), turned upright (EXIF orientation), converted to ``channels`` (None: 1 for a
    grey file, 3 for a colour one; transparency is laid over white), and with ``resolution`` N resized so its
    shorter side is N (antialiased bilinear) and centre-cropped to N x N. Errors as :func:`load_image`."""
    with _opened(path, draft=resolution) as (im, mode, size):
        im = convert_mode(im, channels if channels is not None else (3 if is_colour(im) else 1))
        if resolution is not None:
            im = fit_square(im, resolution)
        arr = np.asarray(im, dtype=np.uint8)
    t = torch.from_numpy(arr.copy())
    return DecodedImage(t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous(), mode, size)


def fit_square(im: Image.Image, n: int) -> Image.Image:
    """``im`` resized (shorter side to ``n``, antialiased bilinear) and centre-cropped to n x n, in one resample:
    the crop box is given in source pixels, so the part cut away is never resized."""
    w, h = im.size
    if (w, h) == (n, n):
        return im
    scale = n / min(w, h)
    cw, ch = n / scale, n / scale  # the crop in source pixels
    left, top = (w - cw) / 2, (h - ch) / 2
    return im.resize((n, n), Image.BILINEAR, box=(left, top, left + cw, top + ch))


GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def is_colour(im: Image.Image) -> bool:
    """Whether an opened image holds colour (a palette of greys counts as grey); reads the header only."""
    if im.mode in GREY_MODES:
        return False
    if im.mode in ("P", "PA"):
        pal = im.getpalette() or []
        return any(pal[i] != pal[i + 1] or pal[i] != pal[i + 2] for i in range(0, len(pal) - 2, 3))
    return True


def convert_mode(im: Image.Image, channels: int) -> Image.Image:
    """``im`` as "L" (channels 1; ITU-R BT.601 luma) or "RGB" (3); 16-bit and float images scaled to 8 bits,
    transparent pixels laid over white (product photos on a transparent background stay on white)."""
    if im.mode in _WIDE_MODES:
        arr = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        im = Image.fromarray((arr.clip(0, top) * (255.0 / top)).round().astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    target = "L" if channels == 1 else "RGB"
    return im if im.mode == target else im.convert(target)


def probe_image(path: str | os.PathLike) -> tuple[str, tuple[int, int], bool] | None:
    """(mode, (width, height), colour?) from the file's header, without decoding; None for a non-image."""
    try:
        with Image.open(path) as im:
            return im.mode, im.size, is_colour(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


@contextmanager
def _opened(path: str | os.PathLike, *, draft: int | None = None
            ) -> Iterator[tuple[Image.Image, str, tuple[int, int]]]:
    """The decoded first frame of an image file, its original mode and size; every failure is one
    :class:`GenlensError` line naming the file. ``draft`` N lets a JPEG decode at 1/2, 1/4 or 1/8 scale
    as long as its shorter side stays at least N (libjpeg's DCT scaling: much faster for large photos)."""
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
                mode = im.mode
                if draft is not None and im.format == "JPEG" and min(w, h) > 2 * draft:
                    im.draft(im.mode, (math.ceil(w * draft / min(w, h)), math.ceil(h * draft / min(w, h))))
                im.load()
                if im.getexif().get(0x0112, 1) != 1:  # EXIF orientation (phone photos): turn upright
                    im = ImageOps.exif_transpose(im)
                yield im, mode, (w, h)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise GenlensError(f"image '{path}' is too large to decode safely ({exc}); shrink it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise GenlensError(f"'{path}' is not a readable image ({type(exc).__name__}); pass a PNG or JPEG file") from None
