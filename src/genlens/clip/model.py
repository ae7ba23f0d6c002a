"""Image-text models: one protocol, two implementations.

- :class:`FmnistClip`: the offline default. The image tower is the zoo CNN architecture (timm ByobNet,
  ``build_cnn(num_classes=0)``) plus a linear projection to 384-d; the text tower is the frozen
  all-MiniLM-L6-v2 sentence encoder. Locked-tower contrastive tuning as in LiT (Zhai et al., CVPR 2022,
  arXiv 2111.07991), except that here the *text* tower is the locked, pretrained one.
- :class:`OpenClipModel`: any open_clip model whose weights are a local file (never downloaded), or a
  model built from a config dict / JSON file (tests use a tiny randomly initialised one).

Both take images in [0, 1] and do their own resizing and normalisation (STYLE.md principle 5).
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn as nn
import torch.nn.functional as F

from genlens.errors import GenlensError
from genlens.text.encoder import check_prompt, load_text_encoder


class ImageTextModel(Protocol):
    """A CLIP-style model: images and texts embedded in one space, both unit-norm."""

    name: str
    input_size: tuple[int, int, int]  # (C, H, W) the image tower sees

    @property
    def module(self) -> nn.Module: ...  # the trainable/frozen weights (eval mode, devices, freezing)

    def encode_image(self, images01: torch.Tensor) -> torch.Tensor: ...  # (B, C, H, W) -> (B, D)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor: ...  # N texts -> (N, D)

    def check(self, prompt: str) -> str: ...  # one-line GenlensError for an unusable prompt


def _to_input(x: torch.Tensor, *, input_size: tuple[int, int, int], mean: Sequence[float], std: Sequence[float],
              name: str) -> torch.Tensor:
    """[0, 1] images (B, C', H', W') -> the tower's normalised input (B, C, H, W): grey <-> RGB, resize."""
    c, h, w = input_size
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise GenlensError(f"{name} expects images shaped (B, 1 or 3, H, W) in [0, 1]; got {tuple(x.shape)}")
    if x.shape[1] != c:
        x = x.expand(-1, 3, -1, -1) if c == 3 else x.mean(1, keepdim=True)
    if tuple(x.shape[-2:]) != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, c, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, c, 1, 1)
    return (x - m) / s


# --- FmnistClip ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class FmnistClipConfig:
    """Architecture of :class:`FmnistClip` (stored in config.json beside the weights)."""

    widths: tuple[int, ...] = (32, 64, 128)
    depths: tuple[int, ...] = (1, 2, 2)
    embed_dim: int = 384  # = the sentence encoder's width
    text_encoder: str = "minilm"
    init_logit_scale: float = math.log(1 / 0.07)  # CLIP (Radford et al. 2021, section 2.5)
    max_logit_scale: float = math.log(100.0)
    mean: tuple[float, ...] = (0.2860,)  # Fashion-MNIST train statistics, as the zoo
    std: tuple[float, ...] = (0.3530,)
    input_size: tuple[int, int, int] = (1, 28, 28)


class FmnistClip(nn.Module):
    """Zoo-CNN image tower + projection, frozen MiniLM text tower, learnable temperature."""

    def __init__(self, config: FmnistClipConfig | None = None, *, name: str = "fmnist-clip") -> None:
        super().__init__()
        from genlens.models.zoo.specs import build_cnn

        self.config = cfg = config or FmnistClipConfig()
        self.name = name
        self.input_size = tuple(cfg.input_size)
        self.trunk = build_cnn(widths=cfg.widths, depths=cfg.depths, num_classes=0, in_chans=cfg.input_size[0])
        self.proj = nn.Linear(self.trunk.num_features, cfg.embed_dim, bias=False)  # (B, 128) -> (B, 384)
        nn.init.normal_(self.proj.weight, std=self.trunk.num_features ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(float(cfg.init_logit_scale)))

    @property
    def module(self) -> nn.Module:
        return self

    @property
    def device(self) -> torch.device:
        return self.proj.weight.device

    def text_encoder(self):
        return load_text_encoder(self.config.text_encoder)  # shared, frozen; not a submodule (not saved)

    def forward_features(self, images01: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, 384) projected, not normalised."""
        x = _to_input(images01, input_size=self.input_size, mean=self.config.mean, std=self.config.std, name=self.name)
        return self.proj(self.trunk(x))

    def encode_image(self, images01: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.forward_features(images01), dim=-1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return self.text_encoder().encode(list(texts)).to(self.device)

    def check(self, prompt: str) -> str:
        return self.text_encoder().check(prompt)

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), clamped at 100 as CLIP does."""
        return self.logit_scale.clamp(max=self.config.max_logit_scale).exp()


# --- open_clip -------------------------------------------------------------------------------------
def _import_open_clip():
    try:
        import open_clip
    except ImportError:
        raise GenlensError("open_clip is not installed; run `pip install open_clip_torch` "
                           "(or use the offline default model: fmnist-clip)") from None
    return open_clip


class OpenClipModel:
    """An open_clip model with its own preprocessing (mean, std, image size) and tokenizer."""

    def __init__(self, model: nn.Module, *, tokenizer, name: str, mean: Sequence[float], std: Sequence[float],
                 image_size: int | Sequence[int], context_length: int) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.mean, self.std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.input_size = (3, int(h), int(w))
        self.context_length = int(context_length)
        for p in self.model.parameters():
            p.requires_grad_(False)

    @property
    def module(self) -> nn.Module:
        return self.model

    @property
    def device(self) -> torch.device:
        p = next(self.model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @classmethod
    def from_file(cls, arch: str | dict[str, Any] | os.PathLike, weights: str | os.PathLike | None, *,
                  device: str | torch.device = "cpu", name: str | None = None) -> OpenClipModel:
        """``arch``: an open_clip model name (``ViT-B-32``), a config dict, or a .json config file;
        ``weights``: a local .pt/.bin/.safetensors file (``None`` keeps a random initialisation, for tests)."""
        open_clip = _import_open_clip()
        if weights is not None and not Path(weights).is_file():
            raise GenlensError(
                f"open_clip weights file '{weights}' not found; download the checkpoint for '{arch}' once "
                f"(e.g. open_clip_pytorch_model.bin from the model's page) and put it at that path, or pass "
                "open_clip:<arch>:<path to the file>"
            )
        cfg: dict[str, Any] | None = None
        if isinstance(arch, dict):
            cfg = arch
        elif str(arch).endswith(".json"):
            path = Path(arch)
            if not path.is_file():
                raise GenlensError(f"open_clip config '{path}' not found; pass a model name or an existing .json file")
            cfg = json.loads(path.read_text())
        label = name or (Path(str(arch)).stem if cfg is not None and not isinstance(arch, dict) else
                         "open_clip-custom" if cfg is not None else f"open_clip:{arch}")
        try:
            if cfg is None:
                if str(arch) not in open_clip.list_models():
                    raise GenlensError(f"open_clip has no model '{arch}'; e.g. {', '.join(open_clip.list_models()[:6])} "
                                       "(or pass a .json config file)")
                model = open_clip.create_model(str(arch), pretrained=None if weights is None else str(weights),
                                               device=str(device))
                tokenizer = open_clip.get_tokenizer(str(arch))
                text_cfg = open_clip.get_model_config(str(arch))["text_cfg"]
            else:
                from open_clip.model import CLIP

                model = CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"],
                             quick_gelu=cfg.get("quick_gelu", False))
                if weights is not None:
                    open_clip.load_checkpoint(model, str(weights))
                model.to(device)
                text_cfg = cfg["text_cfg"]
                tokenizer = open_clip.SimpleTokenizer(context_length=text_cfg.get("context_length", 77))
        except GenlensError:
            raise
        except (RuntimeError, KeyError, ValueError, OSError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GenlensError(f"could not load open_clip model '{arch}' from '{weights}': {first[:300]}; "
                               "check that the weights belong to this architecture") from None
        pp = getattr(model.visual, "preprocess_cfg", None) or {}
        mean = pp.get("mean", open_clip.OPENAI_DATASET_MEAN)
        std = pp.get("std", open_clip.OPENAI_DATASET_STD)
        return cls(model, tokenizer=tokenizer, name=label, mean=mean, std=std,
                   image_size=model.visual.image_size, context_length=text_cfg.get("context_length", 77))

    def encode_image(self, images01: torch.Tensor) -> torch.Tensor:
        x = _to_input(images01, input_size=self.input_size, mean=self.mean, std=self.std, name=self.name)
        return F.normalize(self.model.encode_image(x).float(), dim=-1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        texts = [self.check(t) for t in texts]
        with torch.no_grad():
            tokens = self.tokenizer(texts).to(self.device)
            return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def check(self, prompt: str) -> str:
        prompt = check_prompt(prompt)
        encode = getattr(self.tokenizer, "encode", None)
        if encode is not None:
            n = len(encode(prompt)) + 2  # start and end tokens
            if n > self.context_length:
                raise GenlensError(f"the prompt is {n} tokens long; {self.name} reads {self.context_length}: shorten it")
        return prompt


# --- loading by name ---------------------------------------------------------------------------------
CLIP_KIND = "clip"


def shipped_clip_folder(name: str = "fmnist-clip") -> Path:
    from genlens.models.load import shipped_folder

    return shipped_folder(name)


def load_fmnist_clip(folder: str | os.PathLike | None = None, *, device: str | torch.device = "cpu",
                     verify: bool = True) -> FmnistClip:
    """An :class:`FmnistClip` from a model folder (default: the shipped ``fmnist-clip``)."""
    from genlens.models.weights_io import WEIGHTS_FILE, load_state_into, read_state, verify_manifest
    from genlens.utils.config_io import from_dict
    from genlens.utils.io import read_json

    folder = Path(folder) if folder is not None else shipped_clip_folder()
    cfg_path = folder / "config.json"
    if not cfg_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise GenlensError(f"no trained image-text model at '{folder}'; run `genlens clip train --out {folder}`")
    cfg = read_json(cfg_path)
    if cfg.get("kind") != CLIP_KIND:
        raise GenlensError(f"'{folder}' holds a {cfg.get('kind', 'unknown')} checkpoint, not an image-text (clip) model")
    manifest = verify_manifest(folder) if verify else {}
    config = from_dict(FmnistClipConfig, cfg.get("model"), where=f"'{cfg_path}' model")
    model = FmnistClip(config, name=cfg.get("name", folder.name))
    load_state_into(model, read_state(folder / WEIGHTS_FILE), what=f"'{folder / WEIGHTS_FILE}'", arch=model.name)
    model.manifest = manifest
    return model.eval().to(device)


def load_image_text_model(spec: str = "fmnist-clip", *, device: str | torch.device = "cpu") -> ImageTextModel:
    """``"fmnist-clip"`` (shipped), a model folder written by ``genlens clip train``, or
    ``"open_clip:<arch or config.json>:<local weights file>"``."""
    from genlens.utils.device import resolve_device

    dev = resolve_device(device)
    if spec.startswith("open_clip:"):
        parts = spec.split(":", 2)
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise GenlensError(f"'{spec}' is not open_clip:<arch>:<weights file>; e.g. "
                               "open_clip:ViT-B-32:/models/open_clip_vit_b_32.bin")
        return OpenClipModel.from_file(parts[1], parts[2], device=dev)
    if spec == "fmnist-clip":
        return load_fmnist_clip(device=dev)
    if Path(spec).is_dir():
        return load_fmnist_clip(spec, device=dev)
    raise GenlensError(f"unknown image-text model '{spec}'; use fmnist-clip, a folder from `genlens clip train`, "
                       "or open_clip:<arch>:<weights file>")
