"""A wide residual network for 28x28 grey images: the architecture of the evaluator ``genlens-eval``.

Wide ResNet (Zagoruyko & Komodakis, BMVC 2016, arXiv 1605.07146): pre-activation basic blocks
BN-ReLU-conv3x3-dropout-BN-ReLU-conv3x3 (their fig. 1d, "B(3,3)" with dropout between the convolutions,
section 2.3), widths 16·k, 32·k, 64·k after a 3x3 stem, 1x1 convolution shortcuts where the shape changes,
and BN-ReLU-global average pool before the classifier. WRN-d-k has (d - 4) / 6 blocks per stage.

It differs from every zoo model on purpose (pre-activation, wide, dropout, no stride-2 stem, own
augmentation), so that the evaluator's features and mistakes are not those of the models it scores.
Random erasing (Zhong et al., AAAI 2020, arXiv 1708.04896) is a training-time layer at the input, like
dropout: the shared zoo trainer then needs no evaluator-specific augmentation code, and eval mode (every
extractor and judge) is the identity. timm-style ``forward_features`` / ``forward_head(pre_logits=)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RandomErasing(nn.Module):
    """In train mode, per image with probability ``p``, set a random rectangle of the normalised input to 0
    (the data mean): area a fraction U(0.02, 0.25) of the image, log aspect ratio U(log 0.3, log 3.3)
    (Zhong et al. 2020, alg. 1, with mean filling). Draws from torch's global generator, which the
    trainer seeds; the identity in eval mode."""

    def __init__(self, p: float = 0.5, area: tuple[float, float] = (0.02, 0.25), ratio: tuple[float, float] = (0.3, 3.3)):
        super().__init__()
        self.p, self.area, self.log_ratio = p, area, (math.log(ratio[0]), math.log(ratio[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0:
            return x
        b, _, h, w = x.shape
        u = torch.rand(5, b, device=x.device)  # (5, B): apply?, area, log-ratio, top, left
        area = (self.area[0] + (self.area[1] - self.area[0]) * u[1]) * h * w
        ratio = torch.exp(self.log_ratio[0] + (self.log_ratio[1] - self.log_ratio[0]) * u[2])
        eh = (area * ratio).sqrt().round().clamp(1, h)  # (B,) rectangle heights
        ew = (area / ratio).sqrt().round().clamp(1, w)
        top = (u[3] * (h - eh + 1)).floor()
        left = (u[4] * (w - ew + 1)).floor()
        rows = torch.arange(h, device=x.device)[None, :]  # (1, H)
        cols = torch.arange(w, device=x.device)[None, :]
        in_r = (rows >= top[:, None]) & (rows < (top + eh)[:, None])  # (B, H)
        in_c = (cols >= left[:, None]) & (cols < (left + ew)[:, None])  # (B, W)
        mask = in_r[:, :, None] & in_c[:, None, :] & (u[0] < self.p)[:, None, None]  # (B, H, W)
        return x.masked_fill(mask[:, None], 0.0)


class WideBlock(nn.Module):
    """Pre-activation wide basic block with dropout between its two 3x3 convolutions."""

    def __init__(self, cin: int, cout: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.drop = nn.Dropout(dropout)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(o)  # projection from the pre-activated input
        o = self.conv2(F.relu(self.bn2(self.drop(self.conv1(o)))))
        return o + skip


class WideResNet(nn.Module):
    """WRN-``depth``-``widen`` for (B, in_chans, 28, 28): stages at 28, 14, 7 px by default."""

    def __init__(self, *, depth: int = 16, widen: int = 4, base: tuple[int, ...] = (16, 32, 64),
                 strides: tuple[int, ...] = (1, 2, 2), stem: int = 16, dropout: float = 0.3, erase_p: float = 0.5,
                 num_classes: int = 10, in_chans: int = 1) -> None:
        super().__init__()
        if (depth - 4) % 6 or depth < 10 or len(base) != len(strides):
            raise ValueError(f"WRN depth must be 6n + 4 >= 10 with one stride per stage; got {depth}, {strides}")
        n = (depth - 4) // 6
        self.erase = RandomErasing(erase_p)
        self.stem = nn.Conv2d(in_chans, stem, 3, 1, 1, bias=False)
        blocks, cin = [], stem
        for width, stride in zip(base, strides):
            for i in range(n):
                blocks.append(WideBlock(cin, width * widen, stride if i == 0 else 1, dropout))
                cin = width * widen
        self.blocks = nn.Sequential(*blocks)
        self.norm = nn.BatchNorm2d(cin)
        self.num_features = cin
        self.head = nn.Linear(cin, num_classes)
        for m in self.modules():  # He init for ReLU networks, as in the paper's code
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) normalised images -> (B, num_features, h, w) after the final BN-ReLU."""
        return F.relu(self.norm(self.blocks(self.stem(self.erase(x)))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean(dim=(2, 3))  # (B, num_features) global average pool: the extractor's features
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
