"""Inversions panel: the classes × architectures × methods grid, and new inversions run in the background.

A grid cell is ``n`` images of one class inverted from one classifier with one method
(:func:`genlens.invert`, ``steps_scale`` of the full recipe), judged as DESIGN.md section 4 asks: by the
*other* classifiers of this explorer (:func:`genlens.metrics.judge`), never by the inverted model itself.
Cells are computed on demand, one at a time, and cached as PNG + JSON in the user's cache folder
(``<cache>/inversions/``); the installed package never reads the repository's ``bench/``.

A new inversion (a class, a unit's feature visualisation, or a prompt through the CLIP model) runs as a
streaming socket job: progress and a preview go to the page while it runs, and a cancel (or a newer job)
stops it at its next step.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from genlens.errors import GenlensError
from genlens.web.panels.cam import Classifiers
from genlens.web.render_queue import Cancelled

METHODS = ("pii", "deepdream", "deepinversion")
PREVIEWS = 12  # preview images per job


class InvertRequest(BaseModel):
    """One background inversion (the WebSocket message ``{"type": "invert", ...}``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type: str = "invert"
    id: int = 0
    what: Literal["class", "unit", "prompt"] = "class"
    model: str = Field("fmnist-cnn", max_length=512)
    method: str = Field("pii", pattern="^(pii|deepdream|deepinversion)$")
    cls: str | None = Field(None, alias="class", max_length=64)
    layer: str | None = Field(None, max_length=256)
    unit: int | None = Field(None, ge=0, le=1 << 20)
    prompt: str | None = Field(None, max_length=2000)
    steps_scale: float = Field(0.1, gt=0.0, le=1.0, allow_inf_nan=False)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class InversionsPanel:
    def __init__(self, classifiers: Classifiers, *, cache_dir: Path, steps_scale: float = 0.1, n: int = 2,
                 clip_model: str = "fmnist-clip", device: str = "cpu") -> None:
        self.classifiers, self.cache_dir = classifiers, Path(cache_dir) / "inversions"
        self.steps_scale, self.n, self.clip_model, self.device = steps_scale, n, clip_model, device
        self._compute = threading.Lock()  # one inversion at a time: they each use every core
        self._clip = None

    # ------------------------------------------------------------------------------------------ the grid
    def _key(self, model: str, method: str, cls: str) -> Path:
        tag = hashlib.sha256(f"{model}|{method}|{cls}|{self.steps_scale}|{self.n}".encode()).hexdigest()[:20]
        return self.cache_dir / tag

    def grid(self) -> dict[str, Any]:
        """The grid's axes and every cell already cached (class -> model -> method -> record)."""
        names = self.classifiers.names
        classes = list(self.classifiers.handle(names[0]).class_names) if names else []
        cells = []
        for model in names:
            for method in METHODS:
                for cls in classes:
                    path = self._key(model, method, cls).with_suffix(".json")
                    if path.is_file():
                        cells.append(json.loads(path.read_text()))
        return {"classes": classes, "models": names, "methods": list(METHODS), "steps_scale": self.steps_scale,
                "n": self.n, "cells": cells}

    def _check(self, model: str, method: str, cls: str) -> str:
        if method not in METHODS:
            raise GenlensError(f"unknown inversion method '{method}'; choose one of: {', '.join(METHODS)}")
        handle = self.classifiers.handle(model)  # one line naming the models when unknown
        return handle.class_names[handle.class_index(cls)]

    def cell(self, model: str, method: str, cls: str) -> dict[str, Any]:
        """One cell's record (computed now unless cached): images as a data URL, judged accuracy, judges."""
        cls = self._check(model, method, cls)
        base = self._key(model, method, cls)
        if base.with_suffix(".json").is_file():
            return json.loads(base.with_suffix(".json").read_text()) | {"cached": True}
        with self._compute:
            if base.with_suffix(".json").is_file():  # computed while we waited
                return json.loads(base.with_suffix(".json").read_text()) | {"cached": True}
            t0 = time.perf_counter()
            images = self._invert_class(model, method, cls, self.steps_scale, seed=0, n=self.n, callback=None)
            record = {"model": model, "method": method, "class": cls, "steps_scale": self.steps_scale,
                      "seconds": round(time.perf_counter() - t0, 2)} | self.judge(model, images, cls)
            record["image"] = _strip_url(images)
            self._write(base, record)
        return record | {"cached": False}

    def _write(self, base: Path, record: dict[str, Any]) -> None:
        base.parent.mkdir(parents=True, exist_ok=True)
        tmp = base.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(base.with_suffix(".json"))

    def judge(self, source: str, images: torch.Tensor, cls: str) -> dict[str, Any]:
        """Top-1 of every other classifier on the intended class, and their mean (None without other judges)."""
        from genlens.metrics import judge

        per = {}
        for name in self.classifiers.names:
            if name == source:
                continue
            with self.classifiers.using(name) as handle:
                per[name] = round(judge(handle, images, [cls] * images.shape[0]).top1, 4)
        return {"judges": per, "accuracy": round(sum(per.values()) / len(per), 4) if per else None}

    # ------------------------------------------------------------------------------------------ jobs
    def _invert_class(self, model: str, method: str, cls: str, steps_scale: float, *, seed: int, n: int,
                      callback: Callable[[dict[str, Any]], None] | None) -> torch.Tensor:
        from genlens import invert

        with self.classifiers.using(model) as handle:
            return invert(handle, [cls], method=method, n=n, seed=seed, steps_scale=steps_scale, callback=callback)

    def run(self, req: InvertRequest, emit: Callable[[dict[str, Any], dict[str, bytes]], None],
            cancelled: Callable[[], bool]) -> dict[str, Any]:
        """One background inversion; ``emit`` gets progress (every step) and previews; returns the final image."""
        from genlens.web.images import png_bytes

        t0 = time.perf_counter()
        shown = {"last": -1}

        def progress(info: dict[str, Any]) -> None:
            if cancelled():
                raise Cancelled()
            step, total = info["step"] + 1, info["total_steps"]
            due = step * PREVIEWS // total
            parts = {}
            if due != shown["last"] or step == total:
                shown["last"] = due
                parts = {"preview": png_bytes(info["image"][0].detach().float().cpu().clamp(0, 1), upscale=4)}
            emit({"kind": "progress", "step": step, "total": total, "loss": round(float(info["loss"]), 4)}, parts)

        record: dict[str, Any] = {"what": req.what}
        with self._compute:
            if cancelled():
                raise Cancelled()
            if req.what == "class":
                cls = self._check(req.model, req.method, req.cls or "")
                images = self._invert_class(req.model, req.method, cls, req.steps_scale, seed=req.seed, n=1,
                                            callback=progress)
                record |= {"model": req.model, "method": req.method, "class": cls}
                record |= self.judge(req.model, images, cls)
            elif req.what == "unit":
                images = self._unit(req, progress)
                record |= {"model": req.model, "layer": req.layer, "unit": req.unit}
            else:
                images, sim = self._prompt(req, progress)
                record |= {"model": self.clip_model, "prompt": req.prompt, "similarity": round(sim, 4)}
        return {"parts": {"image": png_bytes(images[0].clamp(0, 1), upscale=4)},
                "ms": 1000 * (time.perf_counter() - t0), "record": record}

    def _unit(self, req: InvertRequest, progress) -> torch.Tensor:
        from genlens.inversion.visualize import visualize

        if req.layer is None or req.unit is None:
            raise GenlensError("a unit inversion needs 'layer' and 'unit' (see the units panel for the layers)")
        with self.classifiers.using(req.model) as handle:
            handle.layer(req.layer)  # one line listing the layers when unknown
            return visualize(handle, layer=req.layer, units=[req.unit], seed=req.seed, steps_scale=req.steps_scale,
                             callback=progress)

    def _prompt(self, req: InvertRequest, progress) -> tuple[torch.Tensor, float]:
        from genlens.inversion.methods.clip_text import check_prompts, invert_text, prompt_similarity

        if not req.prompt:
            raise GenlensError("a prompt inversion needs a 'prompt', e.g. \"a leather ankle boot\"")
        if self._clip is None:
            from genlens.clip.model import load_image_text_model

            self._clip = load_image_text_model(self.clip_model, device=self.device)
        prompts = check_prompts(self._clip, [req.prompt])  # over the encoder's limit: the CLI's one line
        images = invert_text(self._clip, prompts, seed=req.seed, steps_scale=req.steps_scale,
                             callback=progress).detach().float().cpu()
        return images, float(prompt_similarity(self._clip, images, prompts)[0])


def _strip_url(images: torch.Tensor) -> str:
    """The cell's images side by side as one PNG data URL."""
    from genlens.web.images import data_url, png_bytes

    row = torch.cat(list(images.clamp(0, 1)), dim=-1)
    return data_url(png_bytes(row, upscale=3))
