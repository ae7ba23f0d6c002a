"""Neural Cleanse (Wang et al. 2019, IEEE S&P, "Neural Cleanse: Identifying and Mitigating Backdoor Attacks").

For every class k, reverse-engineer the smallest trigger that sends clean inputs to k (section IV-B, eq. 3):

    min_{m, p}  CE(f((1 - m) * x + m * p), k) + lambda_k * |m|_1,     m = sigmoid(a), p = sigmoid(b)

over a small sample of clean test images; lambda_k is adapted per class (raised x1.5 while the trigger
works on >= 99 % of the batch for ``patience`` steps, lowered /1.5^1.5 while it does not), and the smallest
|m|_1 among masks that reached the threshold is kept. A backdoor target needs a much smaller mask than the
other classes, so its norm is an outlier below the median: anomaly index (section IV-C)

    a_k = |n_k - median(n)| / (1.4826 * MAD),   MAD = median_j |n_j - median(n)|,

(1.4826 makes MAD a consistent estimator of a normal standard deviation); a class is flagged when its norm
is below the median and a_k > 2. All classes are optimised together in one batch (K copies of the images).

``scale="log"`` (our option, not the paper's) computes the same index on log |m|_1: Fashion-MNIST's clean
classes need masks whose norms spread over a factor of 5 (a bag or a sneaker needs far less change than a
shirt), which inflates the MAD of the raw norms; on the log scale the spread is a ratio and a planted target,
several times smaller than every clean class, stands out. Both indices are always reported.

Limitation: backdoors built with digital signatures (Goldwasser, Kim, Vaikuntanathan & Zamir 2022, arXiv
2204.06974) are provably undetectable by any test of this kind; a clean verdict is no proof of absence.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genlens.audit.triggers import apply_trigger
from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.utils.modes import eval_mode, frozen

Callback = Callable[[dict[str, Any]], None]

SCALES = ("l1", "log")
MAD_CONSISTENCY = 1.4826  # 1 / Phi^{-1}(3/4): MAD * 1.4826 estimates sigma for normal data
UNDETECTABLE_NOTE = ("Backdoors built with digital signatures (Goldwasser et al. 2022, arXiv 2204.06974) are "
                     "undetectable by any test of this kind; an empty 'flagged' is no proof that none is planted.")


@dataclass(frozen=True)
class CleanseConfig:
    steps: int = 150
    per_class: int = 12  # clean images per class per step (the batch is K * per_class)
    lr: float = 0.1
    lam: float = 2e-3  # initial lambda (mask L1 summed over pixels)
    lam_factor: float = 1.5
    patience: int = 5
    success: float = 0.99  # a mask "works" when this fraction of the batch goes to the class
    threshold: float = 2.0  # anomaly index above which a small-norm class is flagged
    scale: str = "l1"  # l1 (the paper's index on |m|_1) | log (the index on log |m|_1)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.per_class < 1:
            raise GenlensError(f"Neural Cleanse needs --steps >= 1 and at least 1 image per step, got "
                               f"steps={self.steps}, per_class={self.per_class}")
        if self.scale not in SCALES:
            raise GenlensError(f"unknown anomaly scale '{self.scale}'; choose one of: {', '.join(SCALES)}")


@dataclass
class CleanseResult:
    masks: torch.Tensor  # (K, 1, H, W) in [0, 1]
    patterns: torch.Tensor  # (K, C, H, W) in [0, 1]
    norms: torch.Tensor  # (K,) |m|_1 of the kept masks
    anomaly: torch.Tensor  # (K,) on the configured scale
    anomaly_l1: torch.Tensor  # (K,) the paper's index on |m|_1
    anomaly_log: torch.Tensor  # (K,) the index on log |m|_1
    reached: torch.Tensor  # (K,) bool: a mask reached the success threshold
    success: torch.Tensor  # (K,) success of the kept mask on its batch
    flagged: list[int]
    seconds: float
    cpu_seconds: float


def _median(x: torch.Tensor) -> torch.Tensor:
    """The usual median (mean of the two middle values for an even count; torch.median takes the lower)."""
    s = x.sort().values
    n = s.numel()
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def anomaly_index(norms: torch.Tensor, scale: str = "l1") -> torch.Tensor:
    """|n_k - median| / (1.4826 * MAD) per class; 0 where a class sits at the median, inf when MAD = 0.
    ``scale="log"``: the same on log norms."""
    norms = norms.double()
    if scale == "log":
        norms = norms.clamp_min(1e-12).log()
    dev = (norms - _median(norms)).abs()
    mad = _median(dev)
    if mad == 0:
        return torch.where(dev == 0, torch.zeros_like(dev), torch.full_like(dev, float("inf")))
    return dev / (MAD_CONSISTENCY * mad)


def flag_classes(norms: torch.Tensor, threshold: float = 2.0, reached: torch.Tensor | None = None,
                 scale: str = "l1") -> list[int]:
    """Classes whose norm is below the median with an anomaly index above ``threshold``."""
    idx = anomaly_index(norms, scale)
    below = norms.double() < _median(norms.double())
    ok = below & (idx > threshold)
    if reached is not None:
        ok &= reached.to(ok.device)
    return [int(k) for k in torch.nonzero(ok).flatten()]


def neural_cleanse(handle: ModelHandle, images: torch.Tensor, config: CleanseConfig = CleanseConfig(), *,
                   callback: Callback | None = None) -> CleanseResult:
    """Reverse-engineer one trigger per class from clean ``images`` (N, C, H, W) in [0, 1]; flag outliers."""
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(handle.input_size):
        raise GenlensError(f"{handle.name} takes images {handle.input_size}; got {tuple(images.shape)}")
    if images.shape[0] < 2:
        raise GenlensError(f"Neural Cleanse needs at least 2 clean images, got {images.shape[0]}; pass --n-images 200")
    t0, c0 = time.perf_counter(), time.process_time()
    k = handle.num_classes
    c, h, w = handle.input_size
    device = handle.device
    gen = torch.Generator().manual_seed(config.seed)
    images = images.to(device)
    # Parameters: mask logits start at sigmoid = 0.5 over a random pattern, as in the paper's released code.
    a = torch.zeros(k, 1, h, w, device=device, requires_grad=True)
    b = (torch.rand(k, c, h, w, generator=gen) * 2 - 1).to(device).requires_grad_(True)
    opt = torch.optim.Adam([a, b], lr=config.lr, betas=(0.5, 0.9))
    lam = torch.full((k,), config.lam, device=device)
    up = torch.zeros(k, dtype=torch.long, device=device)
    down = torch.zeros(k, dtype=torch.long, device=device)
    best_norm = torch.full((k,), float("inf"), device=device)
    best_succ = torch.zeros(k, device=device)
    best_m = torch.zeros(k, 1, h, w, device=device)
    best_p = torch.zeros(k, c, h, w, device=device)
    labels = torch.arange(k, device=device).repeat_interleave(config.per_class)  # (K * n,)
    with eval_mode(handle.model), frozen(handle.model):
        for step in range(config.steps):
            pick = torch.randint(0, images.shape[0], (k * config.per_class,), generator=gen).to(device)
            m, p = torch.sigmoid(a), torch.sigmoid(b)  # (K, 1, H, W), (K, C, H, W)
            xs = apply_trigger(images[pick], m.repeat_interleave(config.per_class, 0),
                               p.repeat_interleave(config.per_class, 0))
            logits = handle(xs)
            ce = F.cross_entropy(logits, labels, reduction="none").view(k, -1).mean(1)  # (K,)
            norm = m.flatten(1).sum(1)  # (K,) |m|_1
            loss = (ce + lam * norm).sum()  # classes are independent: summing keeps each one's gradient
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                succ = (logits.argmax(1) == labels).float().view(k, -1).mean(1)
                works = succ >= config.success
                better = works & (norm < best_norm)
                best_norm = torch.where(better, norm, best_norm)
                best_succ = torch.where(better, succ, best_succ)
                best_m[better] = m[better].detach()
                best_p[better] = p[better].detach()
                up = torch.where(works, up + 1, torch.zeros_like(up))
                down = torch.where(works, torch.zeros_like(down), down + 1)
                raise_ = up >= config.patience
                lower = down >= config.patience
                lam = torch.where(raise_, lam * config.lam_factor, lam)
                lam = torch.where(lower, lam / config.lam_factor ** 1.5, lam)
                up[raise_] = 0
                down[lower] = 0
            if callback is not None:
                callback({"step": step + 1, "total": config.steps, "loss": float(loss.detach())})
    with torch.no_grad():
        reached = torch.isfinite(best_norm)
        m_last, p_last = torch.sigmoid(a), torch.sigmoid(b)
        best_m[~reached] = m_last[~reached]
        best_p[~reached] = p_last[~reached]
        norms = torch.where(reached, best_norm, m_last.flatten(1).sum(1)).cpu()
    reached = reached.cpu()
    return CleanseResult(masks=best_m.cpu(), patterns=best_p.cpu(), norms=norms,
                         anomaly=anomaly_index(norms, config.scale).float(), anomaly_l1=anomaly_index(norms).float(),
                         anomaly_log=anomaly_index(norms, "log").float(), reached=reached, success=best_succ.cpu(),
                         flagged=flag_classes(norms, config.threshold, reached, config.scale),
                         seconds=time.perf_counter() - t0,
                         cpu_seconds=time.process_time() - c0)


@torch.no_grad()
def transfer_success(handle: ModelHandle, images: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor,
                     sources: torch.Tensor) -> torch.Tensor:
    """Per class k: fraction of clean images of other classes sent to k by ``(1 - m_k) x + m_k s_k``.

    With ``sources`` = the PII inversions of each class, this answers "does PII alone reveal the trigger?":
    if the inverted image, cut out by the recovered mask, already works as a trigger, PII painted it."""
    out = torch.zeros(masks.shape[0])
    for k in range(masks.shape[0]):
        keep = labels != k
        if not keep.any():
            continue
        x = apply_trigger(images[keep], masks[k], sources[k])
        out[k] = (handle.predict(x).argmax(1) == k).float().mean()
    return out
