"""Layers with an equalised learning rate (Karras et al., ProGAN, ICLR 2018, sec. 4.1; used by every layer of
StyleGAN2): the stored weights are N(0, 1) and are scaled at run time by lr_mul / sqrt(fan_in).

Adam's step is about ``lr`` per parameter whatever the gradient's scale, so with plain layers (weights
~ 1/sqrt(fan_in)) a step of lr = 2e-3 changes a wide layer's weights by several percent: StyleGAN2's learning
rate would train D and the mapping network far faster than the paper's. With the scale moved out of the
parameter, every layer learns at the same relative speed; ``lr_mul`` slows a layer further (StyleGAN2's
mapping network uses 0.01).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EqualLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul

    def effective(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight and bias the layer applies."""
        return self.weight * self.weight_gain, None if self.bias is None else self.bias * self.bias_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, *self.effective())


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, padding: int | None = None,
                 bias: bool = True, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_channels * kernel * kernel)
        self.bias_gain = lr_mul
        self.padding = kernel // 2 if padding is None else padding

    def effective(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight and bias the layer applies."""
        return self.weight * self.weight_gain, None if self.bias is None else self.bias * self.bias_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.effective()
        return F.conv2d(x, weight, bias, padding=self.padding)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) times sqrt(2), StyleGAN2's activation: keeps unit variance through a layer."""
    return F.leaky_relu(x, 0.2) * math.sqrt(2)
