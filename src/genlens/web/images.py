"""Image tensors <-> PNG bytes for the explorer, and uploads checked before they are decoded."""
from __future__ import annotations

import base64
import io

import torch
from PIL import Image, UnidentifiedImageError

from genlens.errors import GenlensError
from genlens.utils.images import to_uint8

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_SIDE = 4096


def png_bytes(img: torch.Tensor, *, upscale: int = 1) -> bytes:
    """One (C, H, W) image in [0, 1] -> PNG bytes (nearest-neighbour ``upscale``)."""
    pil = Image.fromarray(to_uint8(img))
    if upscale > 1:
        pil = pil.resize((pil.width * upscale, pil.height * upscale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)  # tiny images: speed over a few bytes
    return buf.getvalue()


def raw_bytes(img: torch.Tensor) -> bytes:
    """One (C, H, W) image in [0, 1] -> its uint8 pixels, row-major with channels last (H, W, C): what the page
    puts in an ``ImageData`` without decoding anything (the GAN panel's drag frames)."""
    return to_uint8(img).tobytes()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def decode_upload(blob: bytes, *, channels: int) -> torch.Tensor:
    """An uploaded PNG/JPEG -> (C, H, W) float in [0, 1]; size, pixel count and format checked first."""
    if len(blob) > MAX_UPLOAD_BYTES:
        raise GenlensError(f"upload is {len(blob) / 2**20:.1f} MB; the limit is 10 MB, send a smaller PNG or JPEG")
    try:
        with Image.open(io.BytesIO(blob)) as im:  # reads the header only
            if im.format not in ("PNG", "JPEG"):
                raise GenlensError(f"upload is {im.format or 'an unknown format'}; send a PNG or JPEG image")
            w, h = im.size
            if w > MAX_UPLOAD_SIDE or h > MAX_UPLOAD_SIDE:
                raise GenlensError(f"upload is {w}x{h} pixels; the limit is 4096x4096, send a smaller image")
            im.load()
            im = im.convert("L" if channels == 1 else "RGB")
            t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).float().div_(255)
            t = t.view(h, w, -1).permute(2, 0, 1).contiguous()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise GenlensError("upload is not a readable image; send a PNG or JPEG file") from None
    return t
