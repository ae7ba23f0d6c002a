"""GAN panel: latent walk over a 2-D plane of z, truncation, and (for heatmap generators) dragged blobs.

The pad point (px, py) in [-1, 1]^2 picks z = z0 + px·d1 + py·d2, where z0 is the seed's latent and d1, d2
are two orthogonal random directions of length sqrt(z_dim) (the typical norm of a Gaussian latent), so the
pad's corners reach other images. With a second seed the plane holds the line through both latents:
z = z_a + (px + 1)/2 · (z_b − z_a) + py · d⊥ (px = −1 is seed a, px = 1 seed b; d⊥ a random direction
orthogonal to the line, of length sqrt(z_dim)/2). Truncation is StyleGAN's trick (Karras et al. 2019, arXiv 1812.04948,
sec. 5.2): w' = w_avg + psi·(w - w_avg), with w_avg the mean of the mapping over 2048 fixed latents.

Blobs are heatmap centres in canvas coordinates (x right, y down, both in [0, 1]; clamped, never an error)
with a spread sigma and a level (EqGAN-SA's three heatmap levels, arXiv 2112.00718 sec. 3.2). A request's
blobs are the whole heatmap: a level's map is the mean of its blobs, and a level without blobs is empty, so
the page adds and removes blobs freely (generators with the official per-centre encoder take exactly the
counts they were trained with). While only the blobs change, w is fixed and one
:class:`genlens.gan.FixedLatentRenderer` (weights baked for that w) is reused, so a drag renders only
convolutions. With ``dcam`` the reply also carries what the discriminator's Grad-CAM marks on the image
(:func:`genlens.gan.discriminator.discriminator_cams`, the CAM EqGAN-SA aligns with the heatmaps, eq. 3),
averaged over the three levels.

Layout generators (``scenes-gan-layout``) take layout items instead of blobs (:mod:`genlens.web.panels.gan_layout`):
the same latent pad, truncation, renderer cache and encodings; only the spatial input differs, rendered by the
library's :func:`genlens.gan.layout_channels` and passed to the same :class:`~genlens.gan.FixedLatentRenderer`.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from genlens.attribution import colorize
from genlens.errors import GenlensError
from genlens.gan import FixedLatentRenderer, Heatmaps, MeanHeatmaps, layout_channels, load_generator, render_heatmap
from genlens.gan.spatial import CENTRES_PER_LEVEL, canvas_to_heat, heat_to_canvas
from genlens.web.panels.gan_layout import Item, default_layout, layout_info, layout_overlay, to_layout

LEVELS = (1, 2, 3)
W_AVG_SAMPLES = 2048
PLANE_OFFSET = 7919  # the plane's directions come from seed + this, never from z0's stream


class Blob(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = Field(ge=1, le=3)
    x: float = Field(allow_inf_nan=False)
    y: float = Field(allow_inf_nan=False)
    sigma: float = Field(gt=0.005, le=4.0)


class GanRequest(BaseModel):
    """One render of the GAN panel (the WebSocket message ``{"type": "gan", ...}``)."""

    model_config = ConfigDict(extra="forbid")
    type: str = "gan"
    id: int = 0
    model: str = Field(max_length=512)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    seed2: int | None = Field(None, ge=0, le=2**31 - 1)
    px: float = Field(0.0, ge=-1.0, le=1.0)
    py: float = Field(0.0, ge=-1.0, le=1.0)
    psi: float = Field(1.0, ge=0.0, le=2.0)
    blobs: list[Blob] | None = Field(None, max_length=64)
    items: list[Item] | None = Field(None, max_length=64)  # layout generators; None: the default layout
    baseline: str | None = Field(None, max_length=512)
    dcam: bool = False
    t0: float | None = None  # the client's clock at the pointer event, echoed back for latency
    # "raw": parts are uint8 pixels (H, W, C) and the header's ``raw`` gives each part's [C, H, W], so the page
    # draws a frame without decoding a PNG (a few ms per frame in the browser, see docs/explorer.md)
    encoding: Literal["png", "raw"] = "png"


class _LRU:
    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


def _unit01(img: torch.Tensor) -> torch.Tensor:
    return (img.clamp(-1, 1) + 1) / 2


class GanPanel:
    def __init__(self, names: list[str], *, device: str = "cpu") -> None:
        self.names, self.device = list(names), device
        self._models = _LRU(8)
        self._renderers = _LRU(16)
        self._baselines = _LRU(64)
        self._seeds = _LRU(64)
        self._discriminators = _LRU(4)

    def check(self, name: str) -> None:
        if name not in self.names:
            raise GenlensError(f"'{name}' is not a generator of this explorer; choose one of: {', '.join(self.names)}")

    def generator(self, name: str):
        self.check(name)

        def make():
            G = load_generator(name, device=self.device)
            g = torch.Generator().manual_seed(0)
            with torch.inference_mode():
                z = torch.randn(W_AVG_SAMPLES, G.config.z_dim, generator=g).to(self.device)
                w_avg = G.mapping(z).mean(0, keepdim=True)
            return G, w_avg

        return self._models.get(name, make)

    def info(self, name: str, seed: int) -> dict[str, Any]:
        """What the page needs to draw a model: its size, whether it takes heatmaps, the seed's blobs."""
        G, _ = self.generator(name)
        heat = self._seed_latent(G, seed)[1]
        blobs = []
        if heat is not None:
            for lv in LEVELS:
                xy = heat_to_canvas(heat.centers[lv][0], G.config.resolution)
                for (cx, cy), s in zip(xy.tolist(), heat.sigmas[lv][0].tolist()):
                    blobs.append({"level": lv, "x": cx, "y": cy, "sigma": s})
        out = {"model": name, "resolution": G.config.resolution, "heatmaps": G.config.use_sel,
               "layout": G.config.use_layout, "arch": G.config.arch, "blobs": blobs,
               "fixed_counts": self._fixed_counts(G), "baseline": self.baseline_for(name),
               # a layout GAN's D judges image and layout together; its CAM is not drawn here
               "dcam": self._d_folder(name) is not None}
        return out | layout_info(G.config) if G.config.use_layout else out

    def baseline_for(self, name: str) -> str | None:
        """The unconditional baseline trained on the same data as ``name`` (``fmnist-gan``, or ``scenes-gan`` for
        fashion-scenes models), when this explorer has it; None otherwise."""
        from genlens.gan import gan_folder
        from genlens.utils.io import read_json

        data = read_json(gan_folder(name) / "config.json").get("data")
        spec = data.get("spec", "") if isinstance(data, dict) else ""
        want = "scenes-gan" if str(spec).startswith("fashion-scenes") else "fmnist-gan"
        return want if want in self.names and want != name else None

    @staticmethod
    def _fixed_counts(G) -> bool:
        return G.config.use_sel and not isinstance(G.heat_encoder, MeanHeatmaps)

    @staticmethod
    def _d_folder(name: str):
        """The folder holding the generator's discriminator, or None when it has none."""
        from genlens.gan import gan_folder
        from genlens.gan.discriminator import has_discriminator

        folder = gan_folder(name)
        return folder if has_discriminator(folder) else None

    def discriminator(self, name: str):
        from genlens.gan.discriminator import load_discriminator

        folder = self._d_folder(name)
        if folder is None:
            raise GenlensError(f"'{name}' has no discriminator.safetensors, so there is no D Grad-CAM to show; "
                               "folders written by `genlens gan train` include one")
        return self._discriminators.get(name, lambda: load_discriminator(folder, device=self.device))

    def dcam_image(self, name: str, image: torch.Tensor, layout: torch.Tensor | None = None) -> torch.Tensor:
        """What D's Grad-CAM marks on ``image`` (C, H, W) in [-1, 1], as RGBA (4, H, W) (alpha = strength); a
        layout GAN's D also takes the ``layout`` channels the image was made from."""
        from genlens.gan.discriminator import discriminator_cams

        cams = discriminator_cams(self.discriminator(name), image[None].clone(),
                                  layout=None if layout is None else layout.clone())
        total = sum(cams.values())[0] / len(cams)
        total = (total - total.min()) / (total.max() - total.min()).clamp_min(1e-6)
        return torch.cat([colorize(total), total[None]])

    def _seed_latent(self, G, seed: int) -> tuple[torch.Tensor, Heatmaps | None]:
        """z0 (1, z_dim) and the seed's heatmaps, drawn in the order ``genlens gan sample`` draws them."""

        def make():
            g = torch.Generator().manual_seed(int(seed))
            z = torch.randn(1, G.config.z_dim, generator=g)
            heat = G.sample_heatmaps(1, generator=g, device="cpu") if G.config.use_sel else None
            return z, heat

        return self._seeds.get((id(G), int(seed)), make)

    def _w(self, name: str, seed: int, px: float, py: float, psi: float, seed2: int | None = None) -> torch.Tensor:
        G, w_avg = self.generator(name)
        z0, _ = self._seed_latent(G, seed)
        d = torch.randn(2, G.config.z_dim, generator=torch.Generator().manual_seed(int(seed) + PLANE_OFFSET))
        if seed2 is not None:
            z1 = self._seed_latent(G, seed2)[0]
            line = (z1 - z0)[0]
            d2 = d[1] - (d[1] @ line) * line / (line @ line).clamp_min(1e-12)  # orthogonal to the line
            d2 = d2 / d2.norm()
            z = z0 + (px + 1) / 2 * (z1 - z0) + py * 0.5 * (G.config.z_dim ** 0.5) * d2
        else:
            d1 = d[0] / d[0].norm()
            d2 = d[1] - (d[1] @ d1) * d1  # Gram-Schmidt: the plane's axes are orthogonal
            d2 = d2 / d2.norm()
            z = z0 + (G.config.z_dim ** 0.5) * (px * d1 + py * d2)
        w = G.mapping(z.to(w_avg.device))
        return w_avg + psi * (w - w_avg)

    def _heatmaps(self, G, seed: int, blobs: list[Blob] | None) -> Heatmaps:
        return self._cpu_heatmaps(G, seed, blobs).to(self.device)

    def _cpu_heatmaps(self, G, seed: int, blobs: list[Blob] | None) -> Heatmaps:
        if blobs is None:
            return self._seed_latent(G, seed)[1]
        res = G.config.resolution
        if self._fixed_counts(G):
            counts = {lv: sum(b.level == lv for b in blobs) for lv in LEVELS}
            if counts != CENTRES_PER_LEVEL:
                want = ", ".join(f"{k} at level {lv}" for lv, k in CENTRES_PER_LEVEL.items())
                raise GenlensError(f"this generator's heatmap encoder takes exactly {want}; move blobs instead of "
                                   "adding or removing them")
        centers, sigmas, maps = {}, {}, {}
        for lv in LEVELS:
            mine = [b for b in blobs if b.level == lv]
            if not mine:  # a level without blobs is an empty map
                centers[lv], sigmas[lv] = torch.zeros(1, 0, 2), torch.zeros(1, 0)
                maps[lv] = torch.zeros(1, 1, res, res)
                continue
            # canvas [0, 1] (x right, y down) -> the heatmap grid's [-1, 1], as `gan edit --center` does;
            # outside points are clamped
            xy = torch.tensor([[min(max(b.x, 0.0), 1.0), min(max(b.y, 0.0), 1.0)] for b in mine])
            c = canvas_to_heat(xy, res)[None]
            s = torch.tensor([[b.sigma for b in mine]])
            centers[lv], sigmas[lv], maps[lv] = c, s, render_heatmap(c, s, res)
        return Heatmaps(maps, centers, sigmas)

    def render(self, req: GanRequest) -> dict[str, Any]:
        """Images of one request as PNG (or raw, see ``GanRequest.encoding``) bytes: ``image``, ``heat`` (heatmap
        and layout generators: what they are given), ``baseline``, ``dcam``."""
        t0 = time.perf_counter()
        G, _ = self.generator(req.model)
        key = (req.model, req.seed, req.px, req.py, req.psi, req.seed2)
        parts: dict[str, bytes] = {}
        shapes: dict[str, list[int]] = {}

        def put(name: str, img: torch.Tensor) -> None:
            parts[name] = _encode(img, req.encoding)
            shapes[name] = list(img.shape)

        with torch.inference_mode():
            renderer = self._renderers.get(key, lambda: FixedLatentRenderer(
                G, self._w(req.model, req.seed, req.px, req.py, req.psi, req.seed2), noise_mode="const"))
            overlay = channels = None  # RGBA, alpha = strength: the heatmap or the layout the generator is given
            if G.config.use_layout:
                channels = self._layout(G, req.items)
                image = renderer(layout=channels)[0]
                overlay = layout_overlay(channels[0])
            else:
                heat = self._heatmaps(G, req.seed, req.blobs) if G.config.use_sel else None
                image = renderer(heat)[0]
                if heat is not None:
                    total = sum(heat.maps[lv][0, 0] for lv in LEVELS)
                    total = (total - total.min()) / (total.max() - total.min()).clamp_min(1e-6)
                    overlay = torch.cat([colorize(total), total[None]])
            put("image", _unit01(image))
            if overlay is not None:
                put("heat", overlay)
            if req.baseline:
                self.check(req.baseline)
                put("baseline", self._baselines.get((req.baseline, *key[1:]), lambda: self._baseline(req)))
        if req.dcam:  # outside inference mode: Grad-CAM needs D's gradients
            put("dcam", self.dcam_image(req.model, image, channels))
        out = {"parts": parts, "ms": 1000 * (time.perf_counter() - t0)}
        return out | {"raw": shapes} if req.encoding == "raw" else out

    def image(self, model: str, seed: int, px: float, py: float, psi: float, seed2: int | None = None,
              blobs: list[Blob] | None = None, items: list[Item] | None = None) -> torch.Tensor:
        """One image (C, H, W) in [0, 1] of a pad point (the latent walk's GIF frames)."""
        G, _ = self.generator(model)
        with torch.inference_mode():
            heat = self._heatmaps(G, seed, blobs) if G.config.use_sel else None
            layout = self._layout(G, items) if G.config.use_layout else None
            w = self._w(model, seed, px, py, psi, seed2)
            return _unit01(G.synthesize(w, heat, layout=layout, noise_mode="const")[0]).cpu()

    def _layout(self, G, items: list[Item] | None) -> torch.Tensor:
        """The layout channels (1, K, S, S) of ``items`` (None: the default layout), checked by the library."""
        layout = default_layout(G.config) if items is None else to_layout(items)
        return layout_channels(G.config, [layout]).to(self.device)

    def _baseline(self, req: GanRequest) -> torch.Tensor:
        B, _ = self.generator(req.baseline)
        w = self._w(req.baseline, req.seed, req.px, req.py, req.psi, req.seed2)
        heat = self._heatmaps(B, req.seed, None) if B.config.use_sel else None
        return _unit01(B.synthesize(w, heat, noise_mode="const")[0])


def _encode(img: torch.Tensor, encoding: str) -> bytes:
    from genlens.web.images import png_bytes, raw_bytes

    return raw_bytes(img) if encoding == "raw" else png_bytes(img)
