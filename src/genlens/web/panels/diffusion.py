"""Diffusion panel: a class, a prompt or a layout, guidance, sampler, steps and seed; the denoising streams step by
step.

Sampling goes through :class:`genlens.diffusion.DiffusionPipeline` with the model's recommended settings and
the user's changes (``with_config``), exactly as ``genlens diffusion sample`` draws. The pipeline's step
callback gives the noisy image x_t and the predicted clean image x̂_0 (Ho et al. 2020, eq. 4 solved for x_0);
each step is sent to the page as soon as it exists, and the page keeps them for scrubbing. A prompt is
anchored to its nearest training captions (:mod:`genlens.diffusion.anchors`), which the page lists.

A layout model (``scenes-ddpm-layout``) takes ``items``, the layout as the GAN panel's layout items
(:mod:`genlens.web.panels.gan_layout`: class index, centre, optional size; the library checks classes and the
item limit, clamps centres); without items it draws the default layout. The page moves items over the image and
samples again from the same seed, so only the layout changes (Make-A-Scene's editing).

A newer request, or a cancel, stops the running one at its next step (the callback raises :class:`Cancelled`).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from genlens.errors import GenlensError
from genlens.web.panels.gan_layout import Item, default_layout, layout_info, to_layout
from genlens.web.render_queue import Cancelled

SAMPLER_NAMES = ("ddim", "dpm++", "ddpm")
MAX_STEPS = 1000


class DiffusionRequest(BaseModel):
    """One run of the diffusion panel (the WebSocket message ``{"type": "diffusion", ...}``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type: str = "diffusion"
    id: int = 0
    model: str = Field(max_length=512)
    cls: str | None = Field(None, alias="class", max_length=64)
    prompt: str | None = Field(None, max_length=2000)
    guidance: float | None = Field(None, ge=0.0, le=20.0, allow_inf_nan=False)
    sampler: str | None = Field(None, pattern="^(ddim|dpm\\+\\+|ddpm)$")
    steps: int | None = Field(None, ge=1, le=MAX_STEPS)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    anchors: int | None = Field(None, ge=0, le=32)
    items: list[Item] | None = Field(None, max_length=64)  # layout models: the whole layout
    t0: float | None = None


class DiffusionPanel:
    def __init__(self, names: list[str], *, device: str = "cpu") -> None:
        self.names, self.device = list(names), device
        self._pipes: dict[str, Any] = {}
        self._prompts: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._runs: dict[str, threading.Lock] = {name: threading.Lock() for name in self.names}

    def check(self, name: str) -> None:
        if name not in self.names:
            choose = ", ".join(self.names) or "none loaded; start genlens explore with a diffusion model"
            raise GenlensError(f"'{name}' is not a diffusion model of this explorer; choose one of: {choose}")

    def pipeline(self, name: str):
        self.check(name)
        with self._lock:
            if name not in self._pipes:
                from genlens.diffusion import DiffusionPipeline

                self._pipes[name] = DiffusionPipeline.from_folder(name, device=self.device)
            return self._pipes[name]

    def info(self, name: str) -> dict[str, Any]:
        """What the page needs for its controls: the condition kind, classes, the recommended settings and, for a
        text model of its images' own captions (``captions_from: "images"``: no classes to ask for, no anchors),
        prompts from those captions to start with."""
        pipe = self.pipeline(name)
        record = pipe.record()
        own = pipe.bundle.captions_from == "images"
        layout = layout_info(_layout_spec(pipe)) if pipe.cond_kind == "layout" else None
        return {"model": name, "cond": pipe.cond_kind, "classes": [] if own else list(pipe.class_names),
                "layout": layout,
                "captions_from": pipe.bundle.captions_from if pipe.cond_kind == "text" else None,
                "prompts": self._own_prompts(name, pipe),
                "samplers": list(SAMPLER_NAMES), "max_steps": MAX_STEPS,
                "recommended": {k: record[k] for k in ("sampler", "steps", "guidance", "anchors")},
                "sources": record["sources"]}

    def _own_prompts(self, name: str, pipe) -> list[str]:
        """The model's own captions to start from, read once per model (a big folder's scan is not free)."""
        with self._lock:
            if name not in self._prompts:
                self._prompts[name] = pipe.own_prompts()
            return self._prompts[name]

    def _configured(self, req: DiffusionRequest):
        pipe = self.pipeline(req.model)
        changes = {k: v for k, v in (("guidance", req.guidance), ("sampler", req.sampler), ("steps", req.steps),
                                     ("anchors", req.anchors)) if v is not None}
        return pipe.with_config(**changes) if changes else pipe

    def condition(self, req: DiffusionRequest, pipe) -> tuple[Any, list[dict[str, Any]]]:
        """The condition to sample with and, for prompts, the training captions it is anchored to."""
        if pipe.cond_kind == "layout":
            if req.cls is not None or req.prompt is not None:
                raise GenlensError(f"'{req.model}' draws layouts; send 'items' (class index, x, y in [0, 1], size), "
                                   "not a class or a prompt")
            layout = default_layout(_layout_spec(pipe)) if req.items is None else to_layout(req.items)
            return pipe.layout_condition([layout]), []
        if req.items is not None:
            raise GenlensError(f"'{req.model}' is {pipe.cond_kind}-conditional and takes no layout items; pick a "
                               "layout model (scenes-ddpm-layout)")
        if (req.cls is None) == (req.prompt is None):
            raise GenlensError("send one of 'class' (a class name) and 'prompt' (text models)")
        if req.cls is not None:
            from genlens.data.base import resolve_class

            if pipe.bundle.captions_from == "images":
                raise GenlensError(f"'{req.model}' was trained on its images' own captions, not on classes; send a "
                                   "prompt (the model info lists some of its captions)")
            return torch.tensor([resolve_class(req.cls, pipe.class_names)]), []
        if pipe.cond_kind != "text":
            raise GenlensError(f"'{req.model}' is class-conditional; send a class, or pick a text model for prompts")
        pipe.encoder().check(req.prompt)  # empty or over the encoder's limit: the CLI's one line
        cond, found = pipe.prompt_condition([req.prompt])
        return cond, (found.to_records(list(pipe.class_names))[0]["anchors"] if found is not None else [])

    def run(self, req: DiffusionRequest, emit: Callable[[dict[str, Any], dict[str, bytes]], None],
            cancelled: Callable[[], bool]) -> dict[str, Any]:
        """Sample one image; ``emit(header, parts)`` gets the anchors and then every step (x_t, x0 as PNG);
        returns the final image's parts. Raises :class:`Cancelled` when ``cancelled()`` turns true."""
        from genlens.web.images import png_bytes

        t0 = time.perf_counter()
        pipe = self._configured(req)
        cond, anchors = self.condition(req, pipe)
        record = pipe.record()
        emit({"kind": "start", "total": record["steps"], "anchors": anchors,
              "settings": {k: record[k] for k in ("sampler", "steps", "guidance", "anchors", "guide_model")}}, {})

        def step(info: dict[str, Any]) -> None:
            if cancelled():
                raise Cancelled()
            emit({"kind": "step", "step": info["step"], "total": info["total"], "timestep": info["timestep"],
                  "ms": round(1000 * (time.perf_counter() - t0), 1)},
                 {"x_t": png_bytes(info["x_t"][0].float().cpu()), "x0": png_bytes(info["x0"][0].float().cpu())})

        gen = torch.Generator(device=self.device).manual_seed(req.seed)
        with self._runs[req.model]:  # one run per model at a time: the guide and encoder are shared
            if cancelled():
                raise Cancelled()
            image = pipe.sample(cond, 1, generator=gen, callback=step)[0].float().cpu()
        return {"parts": {"image": png_bytes(image)}, "ms": 1000 * (time.perf_counter() - t0),
                "total": record["steps"]}


def _layout_spec(pipe) -> Any:
    """What :func:`layout_info` / :func:`default_layout` read from a layout model: its class names and item limit."""
    from types import SimpleNamespace

    return SimpleNamespace(class_names=tuple(pipe.class_names), max_items=int(pipe.model.config.max_items))
