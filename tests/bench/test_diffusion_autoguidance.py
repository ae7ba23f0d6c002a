"""bench/diffusion_autoguidance.py: the autoguidance wrapper follows Karras et al. 2024, eq. 2, on both CFG branches."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module():
    spec = importlib.util.spec_from_file_location("_bench_autoguidance", BENCH / "diffusion_autoguidance.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Const(nn.Module):
    """ε = value for a conditioned row, value + 10 for a dropped (null) row."""

    cond_kind, config = "class", None

    def __init__(self, value: float) -> None:
        super().__init__()
        self.register_buffer("value", torch.tensor(float(value)))

    def forward(self, x, t, cond, drop=None):
        out = torch.full_like(x, float(self.value))
        if drop is not None:
            out[drop] += 10
        return out


def test_autoguided_is_bad_plus_w_times_the_difference_on_both_branches():
    mod = _module()
    guided = mod.AutoGuided(Const(2.0), Const(1.0), w=3.0)
    x = torch.zeros(2, 1, 4, 4)
    assert torch.allclose(guided(x, 5, None), torch.full_like(x, 1 + 3 * (2 - 1)))
    drop = torch.tensor([False, True])
    out = guided(x, 5, None, drop=drop)
    assert torch.allclose(out[0], torch.full_like(out[0], 4.0)) and torch.allclose(out[1], torch.full_like(out[1], 14.0))
    assert torch.equal(mod.AutoGuided(Const(2.0), Const(1.0), w=1.0)(x, 5, None), torch.full_like(x, 2.0))


def test_phase_weights_come_from_git_with_their_recorded_sha(tmp_path):
    import subprocess

    import pytest

    mod = _module()
    commit = mod.PHASES["phase1"][0]
    if subprocess.run(["git", "-C", str(BENCH.parent), "cat-file", "-e", f"{commit}^{{commit}}"],
                      capture_output=True).returncode != 0:
        pytest.skip(f"commit {commit} is not in this clone (shallow?)")
    folder = mod.phase_folder("phase1", tmp_path)
    from genlens.diffusion.io import load_diffusion

    assert load_diffusion(folder).model.cond_kind == "class"  # verifies the phase's own manifest sha256 too
