"""PNG figures of the audits (CLI and tour): per-class comparison bars, sweep curves, per-class changes (Agg)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from genlens.report.plots import _plt


def comparison_png(cmp: Any, path: Path, *, label_a: str, label_b: str) -> Path:
    """Per-class accuracy of A and B with their 95 % intervals, and the difference B - A with its interval."""
    plt = _plt()
    path.parent.mkdir(parents=True, exist_ok=True)
    k = len(cmp.class_names)
    xs = list(range(k))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6, 0.7 * k + 2), 6), sharex=True)
    for off, acc, ci, lab, col in ((-0.18, cmp.acc_a, cmp.ci_a, label_a, "#4c72b0"),
                                   (0.18, cmp.acc_b, cmp.ci_b, label_b, "#dd8452")):
        err = [(acc - ci[:, 0]).clamp_min(0).tolist(), (ci[:, 1] - acc).clamp_min(0).tolist()]
        ax1.bar([x + off for x in xs], acc.tolist(), width=0.36, yerr=err, capsize=2, label=lab, color=col)
    ax1.set_ylabel("test accuracy")
    ax1.set_ylim(0, 1.05)
    ax1.legend(fontsize=8, loc="lower right")
    err = [(cmp.diff - cmp.ci_diff[:, 0]).clamp_min(0).tolist(), (cmp.ci_diff[:, 1] - cmp.diff).clamp_min(0).tolist()]
    colors = ["#c44e52" if c in cmp.losers else ("#55a868" if c in cmp.gainers else "#8c8c8c") for c in xs]
    ax2.bar(xs, cmp.diff.tolist(), yerr=err, capsize=2, color=colors)
    ax2.axhline(0, color="black", lw=0.8)
    ax2.set_ylabel(f"{label_b} - {label_a}")
    ax2.set_xticks(xs, list(cmp.class_names), rotation=30, ha="right", fontsize=8)
    fig.suptitle(f"per-class accuracy, {int(100 * cmp.level)} % paired bootstrap intervals (red: significant loss)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sweep_png(summary: dict[str, Any], path: Path, *, aug: str) -> Path:
    """One panel per class: mean test accuracy over seeds against strength, with the 95 % band."""
    plt = _plt()
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(summary)
    ncol = 5
    nrow = (len(names) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(3 * ncol, 2.4 * nrow), squeeze=False)
    for i, name in enumerate(names):
        ax = axes[i // ncol][i % ncol]
        rows = summary[name]
        s = [r["strength"] for r in rows]
        m = [r["mean"] for r in rows]
        ax.plot(s, m, marker="o", color="#4c72b0")
        if all(r["ci"][0] == r["ci"][0] for r in rows):  # not NaN (one seed)
            ax.fill_between(s, [r["ci"][0] for r in rows], [r["ci"][1] for r in rows], alpha=0.25, color="#4c72b0")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for j in range(len(names), nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    fig.supxlabel("weight decay" if aug == "weight-decay" else f"{aug} strength", fontsize=9)
    fig.supylabel("test accuracy (mean over seeds, 95 % t-interval)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def change_png(changes: dict[str, Any], path: Path, *, title: str) -> Path:
    """Per class: mean accuracy change (in points) with its 95 % interval; red where the interval is below 0,
    green where it is above. ``changes``: class -> {"mean_change", "ci"} (fractions)."""
    plt = _plt()
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(changes)
    mean = [100 * changes[n]["mean_change"] for n in names]
    lo = [100 * changes[n]["ci"][0] for n in names]
    hi = [100 * changes[n]["ci"][1] for n in names]
    err = [[max(0.0, m - a) if a == a else 0.0 for m, a in zip(mean, lo)],
           [max(0.0, b - m) if b == b else 0.0 for m, b in zip(mean, hi)]]
    colors = ["#c44e52" if b < 0 else ("#55a868" if a > 0 else "#8c8c8c") for a, b in zip(lo, hi)]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(names) + 2), 3.2))
    ax.bar(range(len(names)), mean, yerr=err, capsize=3, color=colors)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy change (points)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
