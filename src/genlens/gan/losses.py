"""GAN losses on raw discriminator logits.

Non-saturating logistic loss (Goodfellow et al. 2014, sec. 3; StyleGAN2's default):
D: softplus(D(G(z))) + softplus(-D(x)); G: softplus(-D(G(z))).
R1 penalty (Mescheder et al., ICML 2018, arXiv 1801.04406, eq. 9): gamma/2 * E ||grad_x D(x)||^2 on reals;
lazy regularisation (StyleGAN2 sec. 3.1) evaluates it every k steps, scaled by k.
Disequilibrium indicator (EqGAN-SA, arXiv 2112.00718, sec. 4): E[D(real)] - E[D(fake)] on raw logits.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def r1_penalty(D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, *,
               gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(gamma / 2 * mean_b ||dD(x_b)/dx_b||^2, the logits D(real)); the penalty back-propagates into D."""
    real = real.detach().requires_grad_(True)
    logits = D(real)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return 0.5 * gamma * grad.pow(2).flatten(1).sum(1).mean(), logits


def disequilibrium(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    """E[D(real)] - E[D(fake)] on raw logits (use held-out reals and fresh fakes)."""
    return float(real_logits.detach().float().mean() - fake_logits.detach().float().mean())
