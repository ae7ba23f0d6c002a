"""The object locator: where the objects of a scene are and what they are, for evaluation only (issue 27).

CenterNet-style (Zhou, Wang & Krähenbühl 2019, "Objects as Points", arXiv 1904.07850): a small CNN maps
a scene to per-class centre heatmaps Y_hat (one channel per class, sigmoid) and a 2-channel sub-pixel
offset O_hat at output stride ``R`` (1 or 2). Decoding (section 4 of the paper): a cell is a peak when it
equals the 3x3 max-pool of its heatmap (the paper's replacement for NMS) and its score passes a
threshold; the centre is ``(cell + offset) * R`` pixels, divided by the canvas for [0, 1] units.

The locator is never used to train or tune a generator: it only measures where generated objects landed.
Training is in :mod:`genlens.metrics.locator_train`, matching and scores in
:mod:`genlens.metrics.locator_eval`. Coordinates follow fashion-scenes: pixel ``i`` spans ``[i, i + 1)``,
x to the right, y down.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.errors import GenlensError
from genlens.models.weights_io import (
    load_folder_weights,
    read_folder_config,
    save_model_folder,
)
from genlens.utils.config_io import from_dict, to_dict

KIND = "locator"
SHIPPED = "scenes-locator"  # the shipped locator (src/genlens/models/weights/scenes-locator)


@dataclasses.dataclass(frozen=True)
class LocatorConfig:
    canvas: int = 32  # the scenes' side in pixels; other sizes are refused
    channels: int = 1  # 1 for fashion-scenes, 3 for fashion-scenes-rgb
    class_names: tuple[str, ...] = CLASS_NAMES
    max_items: int = 3  # the most objects per scene in the training data
    width: int = 32  # channels of the first stage; doubled at each of the two downsamplings
    stride: int = 1  # output stride R: 1 or 2
    sigma_min: float = 1.0  # smallest heatmap Gaussian sigma, in output cells

    def __post_init__(self) -> None:
        if self.stride not in (1, 2):
            raise GenlensError(f"locator stride {self.stride} is not supported; use 1 or 2")
        if self.canvas % 4:
            raise GenlensError(f"locator canvas {self.canvas} must be a multiple of 4; use 32 or 64")
        if self.channels not in (1, 3):
            raise GenlensError(f"locator channels {self.channels} must be 1 (grey) or 3 (rgb)")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclasses.dataclass(frozen=True)
class Detection:
    cls: int
    x: float  # centre in [0, 1] of the canvas, x to the right
    y: float  # y down
    score: float


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Locator(nn.Module):
    """A small U-Net: stages at 1, 1/2 and 1/4 of the canvas, upsampled back to 1/R with skips; heads for
    the class heatmaps (logits) and the offsets."""

    def __init__(self, config: LocatorConfig) -> None:
        super().__init__()
        self.config = config
        c = config.width
        self.enc1 = _block(config.channels, c)
        self.enc2 = _block(c, 2 * c, stride=2)
        self.enc3 = _block(2 * c, 4 * c, stride=2)
        self.dec2 = _block(4 * c + 2 * c, 2 * c)
        self.dec1 = _block(2 * c + c, c) if config.stride == 1 else None
        out = c if config.stride == 1 else 2 * c
        self.heat = nn.Sequential(nn.Conv2d(out, out, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(out, config.num_classes, 1))
        self.offset = nn.Sequential(nn.Conv2d(out, out, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(out, 2, 1))
        # CenterNet's prior: start every heatmap at sigmoid(b) = 0.1 so the focal loss is stable at first
        nn.init.constant_(self.heat[-1].bias, -2.19)

    def trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, C, H, W) in [0, 1] -> the deepest features (B, 4c, H/4, W/4) and the decoder's output
        (B, c or 2c, H/R, W/R) that the heads read."""
        e1 = self.enc1(x * 2 - 1)  # (B, c, H, W)
        e2 = self.enc2(e1)  # (B, 2c, H/2, W/2)
        e3 = self.enc3(e2)  # (B, 4c, H/4, W/4)
        d = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2.0, mode="nearest"), e2], 1))  # (B, 2c, H/2, W/2)
        if self.dec1 is not None:
            d = self.dec1(torch.cat([F.interpolate(d, scale_factor=2.0, mode="nearest"), e1], 1))  # (B, c, H, W)
        return e3, d

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, C, H, W) in [0, 1] -> heatmap logits (B, classes, H/R, W/R), offsets (B, 2, H/R, W/R)."""
        _, d = self.trunk(x)
        return self.heat(d), self.offset(d)


def build_locator(config: LocatorConfig | None = None) -> Locator:
    return Locator(config or LocatorConfig())


def check_images(model: Locator, images: torch.Tensor) -> torch.Tensor:
    """Images as float [0, 1] on the model's device, or a one-line error when their size or channels differ
    from what the locator was trained on."""
    cfg = model.config
    if images.ndim != 4:
        raise GenlensError(f"the locator takes a batch of images (B, C, H, W), got shape {tuple(images.shape)}")
    if tuple(images.shape[-2:]) != (cfg.canvas, cfg.canvas):
        raise GenlensError(f"this locator was trained on {cfg.canvas}x{cfg.canvas} scenes, got "
                           f"{images.shape[-2]}x{images.shape[-1]}; use scenes of that canvas or train a locator for it")
    if images.shape[1] != cfg.channels:
        raise GenlensError(f"this locator was trained on {cfg.channels}-channel scenes, got {images.shape[1]}; use "
                           f"{'fashion-scenes-rgb' if cfg.channels == 3 else 'fashion-scenes'} or train another locator")
    device = next(model.parameters()).device
    x = images.to(device)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def decode(heat: torch.Tensor, offset: torch.Tensor, *, stride: int, canvas: int, threshold: float = 0.3,
           max_detections: int = 20, per_class: bool = False) -> list[list[Detection]]:
    """Peaks of heatmaps (B, classes, h, w) in [0, 1]: cells equal to their 3x3 max-pool with score >=
    ``threshold``, the best ``max_detections`` per image. The centre of a peak at cell (i, j) is
    ``((j + offset_x) * R, (i + offset_y) * R)`` pixels (the offset is measured from the cell's corner, as
    in training), divided by the canvas.

    By default the 3x3 maximum is taken over all classes, so one place gives one object, of its most
    likely class (fashion-scenes' objects overlap by at most IoU 0.1, so two centres never share a
    window; per-class peaks, as in the paper, let confusable classes such as Shirt and T-shirt both fire
    on one object). ``per_class=True`` gives the paper's per-class peaks."""
    pooled = F.max_pool2d(heat if per_class else heat.amax(1, keepdim=True), 3, stride=1, padding=1)
    keep = heat == pooled
    scores = torch.where(keep & (heat >= threshold), heat, torch.zeros(()))
    b, k, h, w = scores.shape
    top, idx = scores.flatten(1).topk(min(max_detections, k * h * w), dim=1)
    out: list[list[Detection]] = []
    for i in range(b):
        dets = []
        for s, j in zip(top[i].tolist(), idx[i].tolist()):
            if s <= 0 or s < threshold:
                break
            cls, cell = divmod(j, h * w)
            cy, cx = divmod(cell, w)
            x = (cx + float(offset[i, 0, cy, cx])) * stride / canvas
            y = (cy + float(offset[i, 1, cy, cx])) * stride / canvas
            dets.append(Detection(cls, x, y, s))
        out.append(dets)
    return out


@torch.no_grad()
def predict(model: Locator, images: torch.Tensor, *, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps (sigmoid) and offsets for images, in eval mode, batched; the mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        heats, offs = [], []
        for s in range(0, images.shape[0], batch):
            logits, off = model(check_images(model, images[s : s + batch]))
            heats.append(logits.sigmoid().cpu())
            offs.append(off.cpu())
    finally:
        model.train(was_training)
    return torch.cat(heats), torch.cat(offs)


def locate(model: Locator, images: torch.Tensor, threshold: float = 0.3, *, batch: int = 256,
           max_detections: int = 20, per_class: bool = False) -> list[list[Detection]]:
    """Each image's objects as :class:`Detection` (class, centre x, y in [0, 1], score), best first
    (peaks as in :func:`decode`)."""
    heat, off = predict(model, images, batch=batch)
    cfg = model.config
    return decode(heat, off, stride=cfg.stride, canvas=cfg.canvas, threshold=threshold, max_detections=max_detections,
                  per_class=per_class)


def save_locator(folder: str | os.PathLike, model: Locator, *, command: str, metrics: dict[str, Any],
                 train: dict[str, Any] | None = None, threshold: float | None = None) -> Path:
    """Write the model folder; ``threshold`` is the detection threshold chosen for it (on held-out train scenes)."""
    config: dict[str, Any] = {"kind": KIND, "locator": to_dict(model.config), "train": train or {}}
    if threshold is not None:
        config["threshold"] = float(threshold)
    return save_model_folder(folder, model, config=config, command=command, metrics=metrics, dtype=torch.float32)


def resolve_locator(folder_or_name: str | os.PathLike) -> Path:
    """A locator folder, or the folder of a shipped locator named ``folder_or_name`` (``scenes-locator``); a
    folder of that name in the working directory wins, as for the other shipped models."""
    path = Path(folder_or_name)
    if path.is_dir() or len(path.parts) != 1:
        return path
    from genlens.models.load import shipped_folder

    folder = shipped_folder(str(folder_or_name))
    if folder.is_dir() and (folder / "config.json").is_file():
        return folder
    return path


def locator_threshold(folder: str | os.PathLike) -> float:
    """The detection threshold saved with a locator folder or shipped name (0.3, :func:`locate`'s default, for
    folders without one)."""
    cfg = read_folder_config(resolve_locator(folder), kinds=(KIND,), what="an object locator",
                             fix="pass a folder written by save_locator (genlens locator train)")
    return float(cfg.get("threshold", 0.3))


def load_locator(folder: str | os.PathLike = SHIPPED, *, device: str | torch.device = "cpu",
                 verify: bool = True) -> Locator:
    """A locator (eval mode) from a folder written by :func:`save_locator` or a shipped name (default
    ``scenes-locator``, trained on 32x32 grey fashion-scenes)."""
    folder = resolve_locator(folder)
    if not folder.is_dir():
        raise GenlensError(f"'{folder}' is neither a locator folder nor a shipped locator ({SHIPPED}); pass a "
                           "folder written by `genlens locator train` or the name scenes-locator")
    cfg = read_folder_config(folder, kinds=(KIND,), what="an object locator",
                             fix="pass a folder written by genlens locator train")
    config = from_dict(LocatorConfig, cfg.get("locator"), where=f"'{folder / 'config.json'}' locator")
    model = load_folder_weights(folder, build_locator(config), arch="locator", verify=verify)
    return model.to(device).eval()
