"""Inception-v3 (torchvision) as a :class:`ModelHandle`, from a local weights file only (offline first).

Features are the 2048-d global-average pool before ``fc`` (the layer FID/KID use, Heusel et al. 2017).
Input: [0, 1] RGB resized to 299 and normalised with ImageNet statistics; ``transform_input=True``
then maps that to the [-1, 1] scaling the ported Google weights were trained with, as torchvision's own
``inception_v3(weights=IMAGENET1K_V1)`` does. Note these are torchvision's weights, not the TF-FID ones,
so absolute values differ slightly from papers' FID numbers; compare runs with the same extractor.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle

ENV_VAR = "GENLENS_INCEPTION_WEIGHTS"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_FILE = "inception_v3_google-0cc3c7bd.pth"


def default_weight_paths() -> list[Path]:
    """Where we look, in order, when ``$GENLENS_INCEPTION_WEIGHTS`` is not set."""
    cache = Path.home() / ".cache" / "genlens"
    paths = [cache / "inception_v3.safetensors", cache / "inception_v3.pth"]
    paths.append(Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE)
    return paths


def find_inception_weights() -> Path:
    """The weights file, or a one-line error saying where to put it."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise GenlensError(
                f"${ENV_VAR} is set to '{env}', which is not a file; point it at inception_v3 weights"
            )
        return path
    for path in default_weight_paths():
        if path.is_file():
            return path
    raise GenlensError(
        f"Inception-v3 weights not found; put torchvision's {TORCHVISION_FILE} at "
        f"{default_weight_paths()[0].parent}/inception_v3.pth (or .safetensors) "
        f"or set ${ENV_VAR}=/path/to/file, "
        "or use the genlens-fmnist extractor"
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError, SafetensorError) as exc:
        raise GenlensError(
            f"cannot read Inception-v3 weights '{path}' ({type(exc).__name__}); replace the file"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise GenlensError(f"'{path}' holds no state dict; save torchvision inception_v3 weights there")
    return state


class InceptionPool(nn.Module):
    """timm-style face for torchvision's Inception3: ``forward_features`` -> (B, 2048), ``forward_head``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.fc = net.fc
        net.fc = nn.Identity()  # net(x) now returns the pooled 2048-d vector (eval mode: dropout is a no-op)
        net.AuxLogits = None
        net.aux_logits = False
        self.net = net
        self.num_features = 2048

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, 2048)

    def forward_head(self, f: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return f if pre_logits else self.fc(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def load_inception_handle(*, device: str = "cpu", path: Path | None = None) -> ModelHandle:
    from torchvision.models import inception_v3

    path = path or find_inception_weights()
    state = _read_state_dict(path)
    with torch.device("meta"):  # skip random init of 27M parameters; the file overwrites them
        net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    net.to_empty(device="cpu")
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("AuxLogits.")]
    if missing or unexpected:
        bad = (missing or unexpected)[:3]
        raise GenlensError(
            f"'{path}' is not torchvision inception_v3 weights (e.g. key {', '.join(bad)}); replace it"
        )
    model = InceptionPool(net).to(device).eval()
    return ModelHandle(
        model=model,
        name="inception",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        input_size=(3, 299, 299),
        class_names=tuple(str(i) for i in range(1000)),
        arch="inception_v3",
        meta={"weights": str(path)},
    )
