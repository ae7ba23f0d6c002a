"""Grad-CAM panel: a test image or an upload, a zoo model and a class -> the overlay (genlens.attribution).

``Classifiers`` also serves the units panel: handles and the Fashion-MNIST test split, loaded on first use.
"""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from genlens.errors import GenlensError

MAX_UPLOADS = 32  # uploads kept in memory; the oldest goes first


class Classifiers:
    def __init__(self, names: list[str], *, device: str = "cpu", data_dir: str | None = None) -> None:
        self.names, self.device, self.data_dir = list(names), device, data_dir
        self._handles: dict[str, Any] = {}
        self._uses: dict[str, threading.RLock] = {name: threading.RLock() for name in self.names}
        self._test = None
        self._lock = threading.Lock()

    @contextmanager
    def using(self, name: str) -> Iterator[Any]:
        """The handle, held by this thread alone: hooks (Grad-CAM, captures, visualisation) are per module,
        so two requests running the same model at once would read each other's activations."""
        handle = self.handle(name)
        with self._uses[name]:
            yield handle

    def handle(self, name: str):
        if name not in self.names:
            raise GenlensError(f"'{name}' is not a classifier of this explorer; choose one of: {', '.join(self.names)}")
        with self._lock:
            if name not in self._handles:
                from genlens import load_model

                self._handles[name] = load_model(name, device=self.device)
            return self._handles[name]

    def test_set(self):
        with self._lock:
            if self._test is None:
                from genlens.data import load_dataset

                self._test = load_dataset("fashion-mnist", split="test", data_dir=self.data_dir)
            return self._test

    def test_image(self, index: int) -> tuple[torch.Tensor, int]:
        data = self.test_set()
        if not 0 <= index < len(data):
            raise GenlensError(f"test image {index} does not exist; use an index in 0..{len(data) - 1}")
        return data.float_images(slice(index, index + 1))[0], int(data.labels[index])


class CamRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(max_length=512)
    image: str = Field(max_length=64, description="test:<index> or upload:<id>")
    target: str | None = Field(None, max_length=64, description="class name or index; None: the predicted one")
    layer: str | None = Field(None, max_length=256)
    alpha: float = Field(0.5, ge=0.0, le=1.0)


class CamPanel:
    def __init__(self, classifiers: Classifiers) -> None:
        self.classifiers = classifiers
        self._uploads: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def add_upload(self, blob: bytes) -> str:
        from genlens.web.images import decode_upload

        decode_upload(blob, channels=1)  # refuse what is not a small PNG/JPEG now, not at first use
        key = secrets.token_hex(8)
        with self._lock:
            self._uploads[key] = blob
            while len(self._uploads) > MAX_UPLOADS:
                self._uploads.popitem(last=False)
        return key

    def _image(self, ref: str, channels: int) -> torch.Tensor:
        from genlens.web.images import decode_upload

        kind, _, value = ref.partition(":")
        if kind == "test" and value.isdigit():
            img, _ = self.classifiers.test_image(int(value))
            return img if channels == img.shape[0] else img.expand(channels, -1, -1)
        if kind == "upload":
            with self._lock:
                blob = self._uploads.get(value)
            if blob is None:
                raise GenlensError(f"upload '{value}' is not on this server (uploads are kept in memory); upload it again")
            return decode_upload(blob, channels=channels)
        raise GenlensError(f"image '{ref}' is neither test:<index> nor upload:<id>")

    def run(self, req: CamRequest) -> dict[str, Any]:
        with self.classifiers.using(req.model) as handle:
            return self._run(handle, req)

    def _run(self, handle, req: CamRequest) -> dict[str, Any]:
        from genlens.attribution import default_layer, handle_cam, overlay
        from genlens.web.images import data_url, png_bytes

        c, h, w = handle.input_size
        img = self._image(req.image, c).unsqueeze(0)
        img = torch.nn.functional.interpolate(img, size=(h, w), mode="bilinear", antialias=True,
                                              align_corners=False).clamp(0, 1)
        layer = req.layer or default_layer(handle)
        if req.layer:
            handle.layer(req.layer)  # one line listing the layers when unknown
        probs = handle.predict(img).softmax(dim=1)[0]
        predicted = int(probs.argmax())
        target = handle.class_index(req.target) if req.target not in (None, "") else predicted
        heat = handle_cam(handle, img.to(handle.device), layer=layer, target=target)[0].detach().cpu()
        names = handle.class_names
        upscale = max(1, 224 // max(h, w))
        return {
            "model": req.model, "layer": layer,
            "image": data_url(png_bytes(img[0], upscale=upscale)),
            "overlay": data_url(png_bytes(overlay(img[0], heat, alpha=req.alpha), upscale=upscale)),
            "predicted": {"index": predicted, "name": names[predicted]},
            "target": {"index": target, "name": names[target]},
            "probabilities": [{"name": n, "p": round(float(p), 4)} for n, p in zip(names, probs)],
        }
