"""Units panel: model -> layer -> unit, like OpenAI Microscope.

Layers are those the dead-unit census hooks (genlens.analysis: every ReLU/GELU-style module). A unit's
activation on an image is its mean over space (conv maps) or over tokens (token models); its top test
images and statistics come from the first ``n_images`` test images, computed once per layer. The feature
visualisation (genlens.inversion.visualize, a small step budget) is computed on demand and cached on disk.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.web.panels.cam import Classifiers


def _per_image(act: torch.Tensor) -> torch.Tensor:
    """A layer's output -> (B, units): mean over space (B, C, H, W) or tokens (B, T, D)."""
    if act.ndim == 4:
        return act.float().mean(dim=(2, 3))
    if act.ndim == 3:
        return act.float().mean(dim=1)
    if act.ndim == 2:
        return act.float()
    raise GenlensError(f"cannot read units from an activation shaped {tuple(act.shape)}")


class UnitsPanel:
    def __init__(self, classifiers: Classifiers, *, cache_dir: Path, n_images: int = 1000,
                 steps_scale: float = 0.05, top: int = 9) -> None:
        self.classifiers, self.cache_dir = classifiers, Path(cache_dir)
        self.n_images, self.steps_scale, self.top = n_images, steps_scale, top
        self._census: dict[str, Any] = {}
        self._acts: dict[tuple[str, str], torch.Tensor] = {}
        self._lock = threading.Lock()
        self._vis_locks: dict[Path, threading.Lock] = {}

    def _images(self) -> torch.Tensor:
        data = self.classifiers.test_set()
        return data.float_images(slice(0, min(self.n_images, len(data))))

    def census(self, model: str):
        from genlens.analysis import dead_unit_census

        with self._lock:
            if model not in self._census:
                with self.classifiers.using(model) as handle:
                    self._census[model] = dead_unit_census(handle, self._images())
            return self._census[model]

    def layers(self, model: str) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.census(model).layers]

    def _layer_census(self, model: str, layer: str):
        for c in self.census(model).layers:
            if c.name == layer:
                return c
        names = ", ".join(c.name for c in self.census(model).layers[:8])
        raise GenlensError(f"{model} has no unit layer '{layer}'; e.g. {names}")

    def _activations(self, model: str, layer: str) -> torch.Tensor:
        from genlens.attribution import ActivationCapture

        key = (model, layer)
        with self._lock:
            if key not in self._acts:
                images, rows = self._images(), []
                with self.classifiers.using(model) as handle, \
                        ActivationCapture(handle.layer(layer), name=layer) as cap, torch.no_grad():
                    for i in range(0, images.shape[0], 250):
                        cap.outputs.clear()
                        handle.predict(images[i : i + 250])
                        rows.append(_per_image(cap.outputs[-1]).cpu())
                self._acts[key] = torch.cat(rows)  # (N, units)
            return self._acts[key]

    def unit(self, model: str, layer: str, unit: int) -> dict[str, Any]:
        census = self._layer_census(model, layer)
        if not 0 <= unit < census.units:
            raise GenlensError(f"layer '{layer}' has {census.units} units; use a unit in 0..{census.units - 1}")
        acts = self._activations(model, layer)[:, unit]
        order = acts.argsort(descending=True)[: self.top]
        labels = self.classifiers.test_set().labels
        names = self.classifiers.handle(model).class_names
        return {
            "model": model, "layer": layer, "unit": unit, "units": census.units,
            "dead": bool(census.max_activation[unit] <= census.max_activation.new_tensor(0.0)),
            "max": float(census.max_activation[unit]), "mean": float(acts.mean()), "std": float(acts.std()),
            "images": int(acts.shape[0]),
            "top": [{"index": int(i), "activation": round(float(acts[i]), 4), "label": names[int(labels[i])]}
                    for i in order],
        }

    def vis_png(self, model: str, layer: str, unit: int) -> bytes:
        """The unit's feature visualisation as PNG bytes, from the disk cache or computed now."""
        from genlens.inversion.visualize import visualize
        from genlens.web.images import png_bytes

        census = self._layer_census(model, layer)
        if not 0 <= unit < census.units:
            raise GenlensError(f"layer '{layer}' has {census.units} units; use a unit in 0..{census.units - 1}")
        tag = hashlib.sha256(f"{model}|{layer}|{unit}|{self.steps_scale}".encode()).hexdigest()[:20]
        path = self.cache_dir / "units" / f"{tag}.png"
        with self._lock:
            lock = self._vis_locks.setdefault(path, threading.Lock())
        with lock:
            if path.is_file():
                return path.read_bytes()
            with self.classifiers.using(model) as handle:
                img = visualize(handle, layer=layer, units=[unit], seed=0, steps_scale=self.steps_scale)[0]
            png = png_bytes(img, upscale=4)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(png)
            tmp.replace(path)
            return png
