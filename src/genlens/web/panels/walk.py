"""The latent walk's export: a path through saved pad points as an animated GIF, built on the server (PIL).

Between consecutive points the pad position moves linearly (``frames`` images per segment, the end point
included once), so the GIF shows what the page showed while the pointer travelled; the path closes back to
its first point when ``loop`` is set. Frames are upscaled with nearest neighbours so the pixels stay visible.
"""
from __future__ import annotations

import io
from itertools import pairwise

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from genlens.errors import GenlensError
from genlens.utils.images import to_uint8
from genlens.web.panels.gan import Blob, GanPanel
from genlens.web.panels.gan_layout import Item

MAX_GIF_FRAMES = 400


class WalkGifRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(max_length=512)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    seed2: int | None = Field(None, ge=0, le=2**31 - 1)
    psi: float = Field(1.0, ge=0.0, le=2.0)
    points: list[tuple[float, float]] = Field(min_length=2, max_length=64)
    frames: int = Field(12, ge=1, le=60)  # images per segment
    ms: int = Field(60, ge=20, le=2000)  # per image
    loop: bool = False
    upscale: int = Field(4, ge=1, le=8)
    blobs: list[Blob] | None = Field(None, max_length=64)
    items: list[Item] | None = Field(None, max_length=64)  # layout generators


def path_points(points: list[tuple[float, float]], frames: int, *, loop: bool) -> list[tuple[float, float]]:
    """Pad positions along the polyline through ``points`` (clamped to [-1, 1]), ``frames`` per segment."""
    pts = [(min(1.0, max(-1.0, x)), min(1.0, max(-1.0, y))) for x, y in points]
    if loop:
        pts.append(pts[0])
    out = []
    for (x0, y0), (x1, y1) in pairwise(pts):
        out += [(x0 + (x1 - x0) * i / frames, y0 + (y1 - y0) * i / frames) for i in range(frames)]
    if not loop:
        out.append(pts[-1])
    return out


def walk_gif(panel: GanPanel, req: WalkGifRequest) -> bytes:
    panel.check(req.model)
    path = path_points(req.points, req.frames, loop=req.loop)
    if len(path) > MAX_GIF_FRAMES:
        raise GenlensError(f"the path has {len(path)} frames; the limit is {MAX_GIF_FRAMES}: save fewer points or "
                           "lower frames per segment")
    images = []
    for px, py in path:
        img = Image.fromarray(to_uint8(panel.image(req.model, req.seed, px, py, req.psi, req.seed2, req.blobs,
                                                     req.items)))
        images.append(img.resize((img.width * req.upscale, img.height * req.upscale), Image.NEAREST))
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=req.ms, loop=0)
    return buf.getvalue()
