"""What each trainer preset costs: parameters and measured CPU seconds per training step, for ``--help``.

The numbers are copied from ``experiments/presets.json``, written by ``experiments/presets.py`` (one CPU
thread; one optimizer step of the diffusion trainer, class-conditional; one D and one G step of the EqGAN-SA
GAN; grey and colour images on the preset's own canvas, at the batch given; on a shared 2-core machine whose
load average was about 5, so the times are upper bounds). A leaf module (no torch), so the CLI can show the
table without importing the networks. Re-run the script after changing a preset.
"""
from __future__ import annotations

# family -> size -> (canvas px, batch, parameters grey, parameters colour, s/step grey, s/step colour)
COSTS: dict[str, dict[str, tuple[int, int, int, int, float, float]]] = {
    "diffusion": {
        "base": (32, 8, 1708417, 1709571, 0.865, 0.913),
        "small": (32, 8, 687473, 688051, 0.171, 0.164),
        "64": (64, 8, 6670273, 6671427, 3.095, 3.1),
        "128": (128, 8, 7291713, 7292867, 8.495, 7.439),
    },
    "gan": {
        "default": (32, 8, 8066584, 8068136, 1.636, 1.589),
        "half": (32, 8, 2137112, 2137896, 0.541, 0.51),
        "64": (64, 8, 8180446, 8182002, 2.496, 2.677),
        "128": (128, 8, 8215300, 8216860, 3.948, 4.421),
    },
}


def presets_help(family: str) -> str:
    """One sentence: each preset's canvas, parameters and CPU seconds per step (grey / colour)."""
    rows = [f"{name} ({px} px, {p1 / 1e6:.2f}M params, {t1:.2f} s/step grey and {t3:.2f} s colour at batch {b})"
            for name, (px, b, p1, _, t1, t3) in COSTS[family].items()]
    return ("Measured on one CPU thread: " + "; ".join(rows) + ".") if rows else ""
