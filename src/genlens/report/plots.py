"""Matplotlib figures written as PNG (Agg backend; no display needed)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def confusion_png(confusion: torch.Tensor, class_names: Sequence[str], path: str | Path, *, title: str = "") -> Path:
    """Row-normalised confusion matrix (rows: true class) with the counts' percentages printed."""
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cm = confusion.double()
    cm = cm / cm.sum(1, keepdim=True).clamp_min(1)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(0.55 * k + 2.5, 0.55 * k + 2))
    ax.imshow(cm.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            v = cm[i, j].item()
            if v >= 0.005:
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.5 else "black")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bar_png(values: dict[str, float], path: str | Path, *, title: str = "", ylabel: str = "", ylim=None) -> Path:
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(values) + 2), 3.2))
    ax.bar(list(values), list(values.values()), color="#4c72b0")
    ax.set_xticks(range(len(values)), list(values), rotation=30, ha="right", fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
