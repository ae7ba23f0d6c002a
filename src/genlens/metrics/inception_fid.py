"""The FID Inception network: Inception-v3 as TensorFlow's FID code ran it, for the pytorch-fid weights file.

Published FIDs (Heusel et al. 2017, "GANs trained by a two time-scale update rule ...", section 5 and their
TF code) use the 2015-12-05 TensorFlow Inception graph. pytorch-fid ports those weights
(``pt_inception-2015-12-05-6726825d.pth``) onto torchvision's Inception3 layout with four differences, which
are the facts this module implements (our own code, on torchvision's blocks):

- 1008 outputs instead of 1000 (the TF graph's classes);
- the pooling branch of the 35x35 (Mixed_5b-d), 17x17 (Mixed_6b-e) and first 8x8 (Mixed_7b) blocks averages
  over valid pixels only (``count_include_pad=False``; TF's 'SAME' average pooling);
- the last 8x8 block (Mixed_7c) max-pools in that branch instead of averaging (a quirk of the TF graph);
- input: [0, 1] images resized to 299x299 by bilinear interpolation without antialiasing, then mapped to
  [-1, 1] (the handle's mean 0.5 / std 0.5); no torchvision ``transform_input``.

Features are the 2048-d global average pool before ``fc`` (TF's ``pool_3``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_CLASSES = 1008


def _valid_avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _fid_block(base: type[nn.Module], pool) -> type[nn.Module]:
    """``base`` (a torchvision Inception block whose last output is the pooling branch) with ``pool`` there."""

    class Block(base):  # type: ignore[misc, valid-type]
        def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            outputs = super()._forward(x)  # torchvision order: [..., branch_pool]
            outputs[-1] = self.branch_pool(pool(x))
            return outputs

    Block.__name__ = f"FID{base.__name__}"
    return Block


def fid_inception_v3() -> nn.Module:
    """torchvision's Inception3 (1008 classes, no aux head, no input transform) with the FID blocks; built on the
    meta device (no random init): the caller moves it with ``to_empty`` and loads the weights file."""
    from torchvision.models import inception as tv

    a, c = _fid_block(tv.InceptionA, _valid_avg_pool), _fid_block(tv.InceptionC, _valid_avg_pool)
    e1, e2 = _fid_block(tv.InceptionE, _valid_avg_pool), _fid_block(tv.InceptionE, _max_pool)
    with torch.device("meta"):
        net = tv.Inception3(num_classes=FID_CLASSES, aux_logits=False, transform_input=False, init_weights=False)
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = a(192, pool_features=32), a(256, pool_features=64), a(288, 64)
        net.Mixed_6b = c(768, channels_7x7=128)
        net.Mixed_6c, net.Mixed_6d = c(768, channels_7x7=160), c(768, channels_7x7=160)
        net.Mixed_6e = c(768, channels_7x7=192)
        net.Mixed_7b, net.Mixed_7c = e1(1280), e2(2048)
    return net
