"""Inception-v3 as a :class:`ModelHandle`, from a local weights file only (offline first; never downloaded).

Two files are recognised by their head (``fc`` rows):

- pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (1008 outputs): the FID Inception network
  (:mod:`genlens.metrics.inception_fid`), extractor name ``inception``. The only features whose FID is
  comparable with published numbers.
- torchvision's ``inception_v3_google-0cc3c7bd.pth`` (1000 outputs): extractor name ``inception-torchvision``.
  Same architecture family but other weights and pooling, so its FIDs differ from papers'; compare them only
  with each other.

Features are the 2048-d global-average pool before ``fc`` (the layer FID/KID use, Heusel et al. 2017).
Where the file is looked for: ``inception:FILE``, else ``$GENLENS_INCEPTION_WEIGHTS``, else
:func:`default_weight_paths` (the genlens cache, then torch hub's checkpoint folder, where pytorch-fid and
torchvision keep their downloads).
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from genlens.errors import GenlensError
from genlens.metrics.inception_fid import FID_CLASSES, FID_WEIGHTS_FILE, fid_inception_v3
from genlens.models.handle import ModelHandle

ENV_VAR = "GENLENS_INCEPTION_WEIGHTS"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_FILE = "inception_v3_google-0cc3c7bd.pth"


def default_weight_paths() -> list[Path]:
    """Where we look, in order, when ``$GENLENS_INCEPTION_WEIGHTS`` is not set."""
    cache = Path.home() / ".cache" / "genlens"
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    return [cache / FID_WEIGHTS_FILE, cache / "inception_v3.safetensors", cache / "inception_v3.pth",
            hub / FID_WEIGHTS_FILE, hub / TORCHVISION_FILE]


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
        f"Inception-v3 weights not found and genlens never downloads them; put pytorch-fid's {FID_WEIGHTS_FILE} "
        f"(the FID comparable with papers) in {default_weight_paths()[0].parent}/ or pass --features inception:FILE "
        f"or set ${ENV_VAR}=/path/to/file, or use the genlens-fmnist extractor"
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


def _torchvision_net() -> nn.Module:
    from torchvision.models import inception_v3

    with torch.device("meta"):  # skip random init of 27M parameters; the file overwrites them
        return inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)


def load_inception_handle(*, device: str = "cpu", path: Path | None = None) -> ModelHandle:
    """The Inception handle of the weights file at ``path`` (None: :func:`find_inception_weights`); the file's
    head decides which network it is (module docstring)."""
    path = Path(path).expanduser() if path is not None else find_inception_weights()
    if not path.is_file():
        raise GenlensError(f"Inception weights file '{path}' not found; pass the path of {FID_WEIGHTS_FILE}")
    state = _read_state_dict(path)
    if "Mixed_7c.branch_pool.conv.weight" not in state:  # not an Inception-v3 at all: say so before building one
        bad = ", ".join(list(state)[:3]) or "none"
        raise GenlensError(f"'{path}' is neither pytorch-fid's nor torchvision's inception_v3 weights (e.g. key "
                           f"{bad}); replace it")
    fc = state.get("fc.weight")
    fid = isinstance(fc, torch.Tensor) and fc.shape[0] == FID_CLASSES
    net = fid_inception_v3() if fid else _torchvision_net()
    net.to_empty(device="cpu")
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("AuxLogits.") and not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        bad = (missing or unexpected)[:3]
        raise GenlensError(
            f"'{path}' is neither pytorch-fid's nor torchvision's inception_v3 weights (e.g. key {', '.join(bad)}); "
            "replace it"
        )
    for name, buf in net.named_buffers():  # counters absent from the file: defined, unused in eval mode
        if name.endswith("num_batches_tracked") and name not in state:
            buf.zero_()
    model = InceptionPool(net).to(device).eval()
    # FID: [0, 1] -> [-1, 1] by mean/std 0.5, bilinear resize without antialias, as pytorch-fid; torchvision:
    # ImageNet statistics, then its transform_input maps them to the [-1, 1] scaling its port was trained with
    mean, std = ((0.5,) * 3, (0.5,) * 3) if fid else (IMAGENET_MEAN, IMAGENET_STD)
    num_out = FID_CLASSES if fid else 1000
    return ModelHandle(
        model=model,
        name="inception" if fid else "inception-torchvision",
        mean=mean,
        std=std,
        input_size=(3, 299, 299),
        class_names=tuple(str(i) for i in range(num_out)),
        arch="inception_v3_fid" if fid else "inception_v3",
        meta={"weights": str(path), "comparable_with_papers": fid},
        antialias=not fid,
    )
