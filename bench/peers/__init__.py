"""Peer inversion libraries the benchmark runs beside our methods: same model, same steps, same judges.

``PEERS[name]`` gives the import name, the default config and the runner; a runner takes (handle, labels,
config=, seed=) and returns (images (B, 1, H, W) in [0, 1], optimisation steps run). The libraries are
optional (``make bench`` installs them); :func:`installed` says whether one can be imported, :func:`preload`
imports what a runner needs (so that import time stays out of the timed runs), and :data:`INSTALL` is the
pip command that installs both.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .lucent_peer import LucentConfig, lucent_invert
from .torch_dreams_peer import TorchDreamsConfig, torch_dreams_invert

# lucent 0.1.8 pins kornia<=0.4.1 (and test tools) although it runs with today's kornia: install without deps
INSTALL = ("pip install --no-deps torch-lucent==0.1.8 torch-dreams==4.0.0 && "
           "pip install 'kornia>=0.7' decorator ipython opencv-python-headless tqdm")


@dataclass(frozen=True)
class Peer:
    module: str  # what ``import`` needs
    config: Any  # the default config (steps set per run)
    run: Callable[..., Any]
    imports: tuple[str, ...]  # every module the runner imports


PEERS: dict[str, Peer] = {
    "lucent": Peer("lucent", LucentConfig(), lucent_invert,
                   ("kornia", "kornia.geometry.transform", "lucent.optvis.objectives", "lucent.optvis.param",
                    "lucent.optvis.render", "lucent.optvis.transform")),
    "torch-dreams": Peer("torch_dreams", TorchDreamsConfig(), torch_dreams_invert,
                         ("torch_dreams", "torch_dreams.batched_image_param", "torch_dreams.batched_objective")),
}


def installed(name: str) -> bool:
    """Whether peer ``name``'s library can be imported."""
    return importlib.util.find_spec(PEERS[name].module) is not None


def preload(name: str) -> None:
    """Import everything peer ``name``'s runner imports."""
    for module in PEERS[name].imports:
        importlib.import_module(module)
