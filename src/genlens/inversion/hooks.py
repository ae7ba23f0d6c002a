"""Forward hooks that record activations and BatchNorm input statistics, released by context managers
(STYLE.md principle 8: hooks never outlive the ``with`` block, even when the body raises)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@contextmanager
def capture_activations(layers: Mapping[str, nn.Module]) -> Iterator[dict[str, torch.Tensor]]:
    """Yield a dict that each forward pass fills with ``name -> output`` of the given modules."""
    store: dict[str, torch.Tensor] = {}
    handles = []

    def make_hook(name: str):
        def hook(_module: nn.Module, _inputs, output) -> None:
            store[name] = output[0] if isinstance(output, tuple) else output

        return hook

    try:
        for name, module in layers.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        yield store
    finally:
        for h in handles:
            h.remove()


@dataclass
class BNStats:
    """Batch statistics of one BatchNorm2d's input next to the layer's running statistics."""

    name: str
    mean: torch.Tensor  # (C,) mean over (N, H, W)
    var: torch.Tensor  # (C,) biased variance over (N, H, W), as BatchNorm computes it in training
    running_mean: torch.Tensor
    running_var: torch.Tensor


def batchnorm_layers(model: nn.Module) -> dict[str, nn.BatchNorm2d]:
    """Every BatchNorm2d (timm's BatchNormAct2d included) in module order; the first is the stem's."""
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}


@contextmanager
def capture_bn_stats(model: nn.Module) -> Iterator[list[BNStats]]:
    """Yield a list that each forward pass fills with one :class:`BNStats` per BatchNorm2d, in order of
    execution (DeepInversion, Yin et al. CVPR 2020, eq. 3 compares these to the running statistics)."""
    records: list[BNStats] = []
    handles = []

    def make_hook(name: str, bn: nn.BatchNorm2d):
        def hook(_module: nn.Module, inputs) -> None:
            x = inputs[0]
            c = x.shape[1]
            flat = x.transpose(0, 1).reshape(c, -1)
            records.append(BNStats(name=name, mean=flat.mean(1), var=flat.var(1, unbiased=False),
                                   running_mean=bn.running_mean, running_var=bn.running_var))

        return hook

    try:
        for name, bn in batchnorm_layers(model).items():
            if bn.running_mean is None or bn.running_var is None:
                continue  # track_running_stats=False: nothing to match
            handles.append(bn.register_forward_pre_hook(make_hook(name, bn)))
        yield records
    finally:
        for h in handles:
            h.remove()
